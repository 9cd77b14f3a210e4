import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { CanaryHttpBinding } from './http-binding.js';

/**
 * Registered globally (APP_GUARD) by CanaryModule; always lets the request through. Global guards run
 * before any controller guard, so this is where every matched route is bound — its pattern, flag and shadow
 * opt-in — even when a later guard rejects the request, and where a canary request to a route whose flag
 * names an `upstream` is proxied there, like a reverse proxy in front of the app (its answer is the
 * response; the handler runs only on failover).
 */
@Injectable()
export class CanaryRouteGuard implements CanActivate {
  constructor(@Inject(CanaryHttpBinding) private readonly binding: CanaryHttpBinding) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    try {
      return this.binding.route(context);
    } catch {
      // Binding feeds metrics and shadow copies; it never blocks a request.
      return true;
    }
  }
}
