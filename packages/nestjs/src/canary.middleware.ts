import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { CanaryHttpBinding } from './http-binding.js';

/**
 * Starts every request (applied to all routes by CanaryModule). On platform-fastify Nest middleware gets
 * the raw Node request and response; on platform-express, Express's, which are the same objects.
 */
@Injectable()
export class CanaryMiddleware implements NestMiddleware {
  constructor(@Inject(CanaryHttpBinding) private readonly binding: CanaryHttpBinding) {}

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    try {
      this.binding.begin(req, res);
    } catch {
      // The primary path is sacred: a request canary-kit could not start is served as if it were absent
      // (the guards then treat it as stable).
    }
    next();
  }
}
