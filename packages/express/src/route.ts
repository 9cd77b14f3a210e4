import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { recordOf } from './request-record.js';

type Params = Request['params'];
type Query = Request['query'];
type Locals = Record<string, any>;

/** The two implementations of a split route. */
export interface CanaryRouteHandlers<
  P = Params,
  ResBody = any,
  ReqBody = any,
  ReqQuery = Query,
  L extends Locals = Locals,
> {
  /** Serves the requests this route's flag puts on the canary. */
  canary: RequestHandler<P, ResBody, ReqBody, ReqQuery, L>;
  /** Serves everyone else, and every request canary-kit could not decide for. */
  stable: RequestHandler<P, ResBody, ReqBody, ReqQuery, L>;
}

function checkFlag(flag: unknown, fn: string): asserts flag is string {
  if (typeof flag !== 'string' || flag === '') {
    throw new TypeError(`canary-kit: ${fn}(flag, ...) needs the flag key as a non-empty string`);
  }
}

/**
 * Binds the current route to `flag`: the request's `version` label in the metrics becomes this flag's
 * decision for it. The one place a route's flag becomes known (upstream routing will hook in here).
 */
function bindRoute(req: Request, flag: string): void {
  const record = recordOf(req);
  if (record !== undefined) record.flag = flag;
}

/**
 * Middleware that binds the route to `flag` without dispatching: put it before a handler that decides
 * itself with `req.canary.isCanary(flag)`, or on a router to bind every route in it.
 */
export function bindFlag(flag: string): RequestHandler {
  checkFlag(flag, 'bindFlag');
  return function canaryKitBindFlag(req: Request, _res: Response, next: NextFunction): void {
    bindRoute(req, flag);
    next();
  };
}

/**
 * A route split between two handlers: binds the route to `flag` and calls `handlers.canary` when the
 * request's decision for it is canary, `handlers.stable` otherwise. A promise rejected by either handler is
 * passed to `next(error)` — Express 5 does that itself, Express 4 does not.
 */
export function canaryRoute<
  P = Params,
  ResBody = any,
  ReqBody = any,
  ReqQuery = Query,
  L extends Locals = Locals,
>(
  flag: string,
  handlers: CanaryRouteHandlers<P, ResBody, ReqBody, ReqQuery, L>,
): RequestHandler<P, ResBody, ReqBody, ReqQuery, L> {
  checkFlag(flag, 'canaryRoute');
  if (handlers === null || typeof handlers !== 'object') {
    throw new TypeError('canary-kit: canaryRoute(flag, { canary, stable }) needs both handlers');
  }
  const { canary, stable } = handlers;
  for (const [name, handler] of [
    ['canary', canary],
    ['stable', stable],
  ] as const) {
    if (typeof handler !== 'function') {
      throw new TypeError(
        `canary-kit: canaryRoute("${flag}", ...): \`${name}\` must be a request handler function`,
      );
    }
  }
  let warned = false;
  return function canaryKitRoute(req, res, next): void {
    const decisions = (req as unknown as Request).canary as Request['canary'] | undefined;
    let handler = stable;
    if (decisions === undefined) {
      // Mounted without canaryMiddleware: serve stable rather than fail, and say so once.
      if (!warned) {
        warned = true;
        process.emitWarning(
          `canaryRoute("${flag}") ran on a request canaryMiddleware did not see; serving stable`,
          'CanaryKitWarning',
        );
      }
    } else {
      bindRoute(req as unknown as Request, flag);
      if (decisions.evaluate(flag).version === 'canary') handler = canary;
    }
    const result: unknown = handler(req, res, next);
    // Returning nothing keeps Express 5 from also catching the promise (next() would be called twice).
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as PromiseLike<unknown>).then === 'function'
    ) {
      (result as PromiseLike<unknown>).then(undefined, (error: unknown) =>
        next(error ?? new Error('Rejected promise')),
      );
    }
  };
}
