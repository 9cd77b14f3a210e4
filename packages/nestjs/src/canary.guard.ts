import { STATUS_CODES } from 'node:http';
import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CanaryHttpBinding } from './http-binding.js';
import {
  CANARY_FLAG_METADATA,
  CANARY_GUARD_METADATA,
  type CanaryGuardMetadata,
  checkFlag,
  checkStatus,
} from './metadata.js';
import { rawRequest, requestCanary } from './request-state.js';

export interface CanaryGuardOptions {
  /** Status for stable requests. Default: CanaryModule's `guardStatus` (404 unless configured). */
  status?: number;
}

/** The guard behind `@CanaryGuard(flag)`: lets canary requests through, answers stable ones with an error. */
@Injectable()
export class CanaryFlagGuard implements CanActivate {
  constructor(
    @Inject(CanaryHttpBinding) private readonly binding: CanaryHttpBinding,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const guard = this.reflector.getAllAndOverride<CanaryGuardMetadata | undefined>(CANARY_GUARD_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (guard === undefined || context.getType() !== 'http') return true;
    let canary = false;
    try {
      // A canary request whose upstream failed is served as a stable one.
      canary = requestCanary(this.binding.bindRoute(context)).isCanary(guard.flag);
    } catch {
      // A request canary-kit could not evaluate is a stable request.
    }
    if (canary) return true;
    const status = guard.status ?? this.binding.guardStatus;
    const req = rawRequest(context.switchToHttp().getRequest<unknown>()) as {
      method?: string;
      originalUrl?: string;
      url?: string;
    };
    const path = (req.originalUrl ?? req.url ?? '/').split('?')[0];
    // The body Nest gives an unknown route, so that a stable client sees no trace of the canary-only one.
    throw new HttpException(
      {
        message: `Cannot ${req.method ?? 'GET'} ${path}`,
        error: STATUS_CODES[status] ?? 'Error',
        statusCode: status,
      },
      status,
    );
  }
}

/**
 * Lets a handler (or every handler of a controller) run only for requests `flag` puts on the canary;
 * stable requests get 404, or the status configured here or in CanaryModule's `guardStatus`. Also binds the
 * route to `flag`, so its requests are labelled with the flag's decision in metrics.
 */
export function CanaryGuard(
  flag: string,
  options: CanaryGuardOptions = {},
): MethodDecorator & ClassDecorator {
  const metadata: CanaryGuardMetadata = {
    flag: checkFlag(flag, '@CanaryGuard()'),
    status: checkStatus(options.status, '@CanaryGuard() `status`'),
  };
  return applyDecorators(
    SetMetadata(CANARY_FLAG_METADATA, flag),
    SetMetadata(CANARY_GUARD_METADATA, metadata),
    UseGuards(CanaryFlagGuard),
  );
}
