import type { RequestState } from '@canary-kit/core';
import type { Request } from 'express';

const RECORD = Symbol.for('canary-kit.express.request');

/** The parts of an Express route object we read; Express 4 and 5 both set `req.route` to one. */
interface MatchedRoute {
  readonly path: unknown;
}

/**
 * canary-kit's per-request bookkeeping, kept on the request under a symbol: the core state, the route that
 * matched and the flag that route is bound to. Later features (shadow copies, recording, upstream routing)
 * hang their per-request state here too.
 */
export class RequestRecord {
  readonly state: RequestState;
  /** The flag the matched route is bound to (`canaryRoute` / `bindFlag`); its decision labels the version. */
  flag: string | undefined = undefined;
  #baseUrl = '';
  #route: MatchedRoute | undefined = undefined;

  constructor(state: RequestState) {
    this.state = state;
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
