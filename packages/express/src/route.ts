import type { RouteShadowOptIn } from '@canary-kit/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { recordOf } from './request-record.js';
import { proxyToUpstream } from './upstream.js';

type Params = Request['params'];
type Query = Request['query'];
type Locals = Record<string, any>;

/** Shadow target names a route opts in to, or `true` for every target. */
export type ShadowTargets = true | string | readonly string[];

/** A route's opt-in to shadowing. */
export interface ShadowOptIn {
  /** The targets (by `name`) this route is mirrored to; default `true`, every target. */
  targets?: ShadowTargets;
  /**
   * Also mirror this route's write methods (POST, PUT, PATCH, DELETE) — to targets listing them in `methods`.
   * A shadow copy of a write duplicates its side effects: only for candidates that write to their own store.
   */
  writes?: boolean;
}

/** The two implementations of a split route, and its shadow opt-in. */
export interface CanaryRouteHandlers<
  P = Params,
  ResBody = any,
  ReqBody = any,
  ReqQuery = Query,
  L extends Locals = Locals,
> {
  /**
   * Serves the requests this route's flag puts on the canary — unless the flag has an `upstream`, which then
   * serves them (this handler serves them again if the upstream is removed from the config).
   */
  canary: RequestHandler<P, ResBody, ReqBody, ReqQuery, L>;
  /** Serves everyone else, every request canary-kit could not decide for, and upstream failovers. */
  stable: RequestHandler<P, ResBody, ReqBody, ReqQuery, L>;
  /** Mirror this route to shadow targets: `true` (every target) or `{ targets, writes }`. */
  shadow?: true | ShadowOptIn;
}

/** Options of `bindFlag`. */
export interface BindFlagOptions {
  /** Mirror the bound routes to shadow targets: `true` (every target) or `{ targets, writes }`. */
  shadow?: true | ShadowOptIn;
}

function checkFlag(flag: unknown, fn: string): asserts flag is string {
  if (typeof flag !== 'string' || flag === '') {
    throw new TypeError(`canary-kit: ${fn}(flag, ...) needs the flag key as a non-empty string`);
  }
}

function checkTargets(targets: unknown, where: string): true | readonly string[] {
  if (targets === true) return true;
  if (typeof targets === 'string' && targets !== '') return [targets];
  if (
    Array.isArray(targets) &&
    targets.length > 0 &&
    targets.every((t) => typeof t === 'string' && t !== '')
  ) {
    return Object.freeze([...targets]);
  }
  throw new TypeError(
    `canary-kit: ${where}: shadow targets must be true (every target), a target name or a non-empty list of names`,
  );
}

function checkWrites(writes: unknown, where: string): boolean {
  if (writes === undefined || typeof writes === 'boolean') return writes === true;
  throw new TypeError(`canary-kit: ${where}: \`writes\` must be a boolean`);
}

/** Validates a `shadow` option at startup. */
function shadowOptIn(value: unknown, where: string): RouteShadowOptIn | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return Object.freeze({ targets: true, writes: false });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`canary-kit: ${where}: \`shadow\` must be true or { targets, writes }`);
  }
  const { targets, writes } = value as ShadowOptIn;
  return Object.freeze({
    targets: checkTargets(targets ?? true, where),
    writes: checkWrites(writes, where),
  });
}

/**
 * Binds the current route to `flag` (the request's `version` label becomes this flag's decision, and shadow
 * targets listing the flag in `flags` mirror it) and records its shadow opt-in.
 */
function bindRoute(req: Request, flag: string, shadow: RouteShadowOptIn | undefined): void {
  const record = recordOf(req);
  if (record === undefined) return;
  record.flag = flag;
  if (shadow !== undefined) record.shadow = shadow;
}

/**
 * Middleware that binds the route to `flag` without dispatching: put it before a handler that decides
 * itself with `req.canary.isCanary(flag)`, or on a router to bind every route in it. `options.shadow` also
 * opts those routes in to shadowing.
 */
export function bindFlag(flag: string, options: BindFlagOptions = {}): RequestHandler {
  checkFlag(flag, 'bindFlag');
  const shadow = shadowOptIn(options?.shadow, `bindFlag("${flag}")`);
  return function canaryKitBindFlag(req: Request, _res: Response, next: NextFunction): void {
    bindRoute(req, flag, shadow);
    next();
  };
}

/**
 * Middleware that opts the route (or every route of a router) in to shadowing: mirrored to `targets` (all of
 * them by default) even when a target's `paths` and `flags` do not choose it. Write methods are mirrored only
 * with `{ writes: true }`, and only to targets listing the method in their `methods`.
 *
 * ```js
 * app.post('/orders', shadowRoute(['orders-v2'], { writes: true }), express.json(), createOrder);
 * ```
 */
export function shadowRoute(
  targets: ShadowTargets = true,
  options: { writes?: boolean } = {},
): RequestHandler {
  const optIn: RouteShadowOptIn = Object.freeze({
    targets: checkTargets(targets, 'shadowRoute()'),
    writes: checkWrites(options?.writes, 'shadowRoute()'),
  });
  return function canaryKitShadowRoute(req: Request, _res: Response, next: NextFunction): void {
    const record = recordOf(req);
    if (record !== undefined) record.shadow = optIn;
    next();
  };
}

/**
 * Calls an Express handler the way Express would, also from outside Express's own call (after an upstream
 * failover): a throw or a rejected promise goes to `next(error)` — Express 5 does that for promises itself,
 * Express 4 does not.
 */
function invoke(
  handler: RequestHandler<any, any, any, any, any>,
  req: any,
  res: any,
  next: NextFunction,
): void {
  let result: unknown;
  try {
    result = handler(req, res, next);
  } catch (error) {
    next(error);
    return;
  }
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as PromiseLike<unknown>).then === 'function'
  ) {
    (result as PromiseLike<unknown>).then(undefined, (error: unknown) =>
      next(error ?? new Error('Rejected promise')),
    );
  }
}

/**
 * A route split between two handlers: binds the route to `flag` and calls `handlers.canary` when the
 * request's decision for it is canary, `handlers.stable` otherwise. When the flag has an `upstream`, the
 * canary share is proxied there instead, falling over to `handlers.stable` as the upstream's failover rules
 * allow. A promise rejected by either handler is passed to `next(error)`.
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
  const shadow = shadowOptIn(handlers.shadow, `canaryRoute("${flag}")`);
  let warned = false;
  return function canaryKitRoute(req, res, next): void {
    const request = req as unknown as Request;
    const decisions = request.canary as Request['canary'] | undefined;
    const record = recordOf(request);
    if (decisions === undefined || record === undefined) {
      // Mounted without canaryMiddleware: serve stable rather than fail, and say so once.
      if (!warned) {
        warned = true;
        process.emitWarning(
          `canaryRoute("${flag}") ran on a request canaryMiddleware did not see; serving stable`,
          'CanaryKitWarning',
        );
      }
      invoke(stable, req, res, next);
      return;
    }
    bindRoute(request, flag, shadow);
    if (decisions.evaluate(flag).version !== 'canary') {
      invoke(stable, req, res, next);
      return;
    }
    let upstream: ReturnType<typeof record.canary.upstreamFor>;
    try {
      upstream = record.canary.upstreamFor(flag);
    } catch {
      upstream = undefined;
    }
    if (upstream === undefined) {
      invoke(canary, req, res, next);
      return;
    }
    void proxyToUpstream(upstream, flag, request, res as unknown as Response, record, () =>
      invoke(stable, req, res, next),
    );
  };
}
