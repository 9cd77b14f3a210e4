import type { FastifyReply, FastifyRequest } from 'fastify';
import { kRoute, type SlottedRequest } from './request-slots.js';

/** Marks handlers built by canaryHandler(), so onRoute can insist that their route binds a flag. */
export const kCanaryHandler: unique symbol = Symbol('canary-kit.canaryHandler');

// Loose on purpose: the concrete type is inferred from the route the handler is passed to, so handlers
// written inline get the route's typed request and reply.
type AnyHandler = (
  this: any,
  request: FastifyRequest<any, any, any, any, any, any, any>,
  reply: FastifyReply<any, any, any, any, any, any, any>,
) => any;

export interface CanaryHandlers<Handler extends AnyHandler> {
  /** Serves the requests whose decision for the route's bound flag is `canary`. */
  canary: Handler;
  /** Serves everyone else, and every request when canary-kit is not active for the route. */
  stable: Handler;
}

/**
 * A route handler that dispatches each request to `canary` or `stable` by the decision for the flag the
 * route is bound to with `config: { canary: { flag } }` — the same decision that labels the route's metrics.
 *
 * ```ts
 * app.get('/checkout', { config: { canary: { flag: 'checkout-v2' } } }, canaryHandler({ canary: v2, stable: v1 }));
 * ```
 */
export function canaryHandler<Handler extends AnyHandler>(handlers: CanaryHandlers<Handler>): Handler {
  const { canary, stable } = handlers ?? ({} as CanaryHandlers<Handler>);
  if (typeof canary !== 'function' || typeof stable !== 'function') {
    throw new TypeError('canary-kit: canaryHandler({ canary, stable }) needs two handler functions');
  }
  let warnedUnbound = false;
  const dispatch = function canaryDispatch(this: unknown, request: FastifyRequest, reply: FastifyReply) {
    const flag = (request as SlottedRequest)[kRoute]?.flag;
    // `request.canary` is null (or absent) when the plugin is not registered for this route's context.
    const decisions = request.canary as FastifyRequest['canary'] | null | undefined;
    if (flag === undefined || decisions == null) {
      if (!warnedUnbound) {
        warnedUnbound = true;
        request.log.warn(
          'canary-kit: canaryHandler() on a route without config.canary.flag, or without the plugin; serving stable',
        );
      }
      return stable.call(this, request, reply);
    }
    return (decisions.isCanary(flag) ? canary : stable).call(this, request, reply);
  };
  Object.defineProperty(dispatch, kCanaryHandler, { value: true });
  return dispatch as Handler;
}

export function isCanaryHandler(handler: unknown): boolean {
  return (
    typeof handler === 'function' && (handler as unknown as Record<symbol, unknown>)[kCanaryHandler] === true
  );
}
