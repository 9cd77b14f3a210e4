import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { CanaryHttpBinding } from './http-binding.js';

/**
 * Registered globally (APP_GUARD) by CanaryModule; always lets the request through. Global guards run
 * before any controller guard, so this is where every matched route is bound — its pattern and flag —
 * even when a later guard rejects the request.
 */
@Injectable()
export class CanaryRouteGuard implements CanActivate {
  constructor(@Inject(CanaryHttpBinding) private readonly binding: CanaryHttpBinding) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    try {
      this.binding.bindRoute(context);
    } catch {
      // Binding only feeds metrics; it never blocks a request.
    }
    return true;
  }
}
