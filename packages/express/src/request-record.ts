import type { Canary, RequestState, RouteShadowOptIn, Version } from '@canary-kit/core';
import type { Request } from 'express';

const RECORD = Symbol.for('canary-kit.express.request');

/** The parts of an Express route object we read; Express 4 and 5 both set `req.route` to one. */
interface MatchedRoute {
  readonly path: unknown;
}

/**
 * canary-kit's per-request bookkeeping, kept on the request under a symbol: the core state, the route that
 * matched, the flag that route is bound to, its shadow opt-in and who actually served it.
 */
export class RequestRecord {
  readonly state: RequestState;
  readonly canary: Canary;
  /** Path and query as received, before any router stripped its mount path. */
  readonly url: string;
  /** The flag the matched route is bound to (`canaryRoute` / `bindFlag`); its decision labels the version. */
  flag: string | undefined = undefined;
  /** The route's shadow opt-in (`shadowRoute`, `canaryRoute`'s or `bindFlag`'s `shadow` option). */
  shadow: RouteShadowOptIn | undefined = undefined;
  /** Set when the served version differs from the decision's (an upstream failover) or is known exactly. */
  servedBy: Version | undefined = undefined;
  /** Whether the raw request body is being captured (the middleware ran before anything read the stream). */
  bodyCaptured = false;
  #baseUrl = '';
  #route: MatchedRoute | undefined = undefined;

  constructor(state: RequestState, canary: Canary, url: string) {
    this.state = state;
    this.canary = canary;
    this.url = url;
  }

  /** Attaches the record to `req` and starts watching which route matches. */
  attach(req: Request): void {
    (req as unknown as Record<symbol, RequestRecord>)[RECORD] = this;
    // Express assigns `req.route` the moment a route matches, while `req.baseUrl` still holds the mount
    // path of the router that route lives in. Reading both later gets it wrong when an error travels out of
    // a nested router (the routers restore `baseUrl` on the way out), so capture the pair as it happens.
    const record = this;
    let current: unknown = req.route;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set(value: unknown) {
        current = value;
        if (value !== null && typeof value === 'object') {
          record.#route = value as MatchedRoute;
          record.#baseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
        }
      },
    });
  }

  /**
   * The matched route's pattern, mount paths included (`/api/users/:id`), or undefined when no route
   * matched. Built from Express's route definition, never from the requested URL.
   */
  routePattern(): string | undefined {
    const route = this.#route;
    if (route === undefined) return undefined;
    const path = route.path;
    return this.#baseUrl + (Array.isArray(path) ? path.join('|') : String(path));
  }
}

export function recordOf(req: Request): RequestRecord | undefined {
  return (req as unknown as Record<symbol, RequestRecord | undefined>)[RECORD];
}
