import type { FastifyRequest } from 'fastify';

/** What a route declares in `config.canary`. */
export interface CanaryRouteConfig {
  /**
   * The flag this route is bound to. Its decision labels the route's `http_request_duration_seconds`
   * (`version="canary"|"stable"`) and picks the handler of `canaryHandler()`.
   */
  flag?: string;
  /** `false` leaves the route out of `http_request_duration_seconds` (health checks, scrapes). Default true. */
  metrics?: boolean;
}

/** A route as canary-kit sees it, resolved once per route and shared by all of its requests. */
export interface RouteBinding {
  /** The route pattern (`/users/:id`), undefined when no route matched (404). */
  readonly url: string | undefined;
  /** The bound flag, if any. */
  readonly flag: string | undefined;
  /** Whether the route's requests are recorded in `http_request_duration_seconds`. */
  readonly record: boolean;
}

export const UNMATCHED: RouteBinding = Object.freeze({ url: undefined, flag: undefined, record: true });

/**
 * Validates a route's `config.canary`. Throws a TypeError naming the route and the rule broken; called
 * from `onRoute`, so a bad binding fails at registration, not on a request.
 */
export function parseRouteConfig(
  value: unknown,
  where: string,
): { readonly flag: string | undefined; readonly record: boolean } {
  if (value === undefined || value === null) return { flag: undefined, record: true };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`canary-kit: ${where}: config.canary must be an object like { flag: 'my-flag' }`);
  }
  const { flag, metrics } = value as Record<string, unknown>;
  if (flag !== undefined && (typeof flag !== 'string' || flag === '')) {
    throw new TypeError(`canary-kit: ${where}: config.canary.flag must be a non-empty string`);
  }
  if (metrics !== undefined && typeof metrics !== 'boolean') {
    throw new TypeError(`canary-kit: ${where}: config.canary.metrics must be a boolean`);
  }
  return { flag, record: metrics !== false };
}

/** Fastify keeps one config object per route for its whole life; bindings are derived from it once. */
const bindings = new WeakMap<object, RouteBinding>();

/**
 * The binding of the route a request matched. `request.routeOptions` is the only public way to the route's
 * config in Fastify 5 (routes declared before the plugin loaded never reach its `onRoute` hook), so the
 * parsed result is cached on that config object: one getter and one WeakMap lookup per request.
 */
export function routeBindingOf(request: FastifyRequest): RouteBinding {
  const config = request.routeOptions.config as
    | { url?: string; method?: unknown; canary?: unknown }
    | undefined;
  if (config === undefined || config === null || config.url === undefined) return UNMATCHED;
  let binding = bindings.get(config);
  if (binding === undefined) {
    let parsed: { flag: string | undefined; record: boolean };
    try {
      parsed = parseRouteConfig(config.canary, `route ${String(config.method)} ${config.url}`);
    } catch (error) {
      // Only reachable for a route the onRoute check never saw; the request is still served, unbound.
      request.log.error({ err: error }, 'canary-kit: invalid config.canary; route treated as unbound');
      parsed = { flag: undefined, record: true };
    }
    binding = Object.freeze({ url: config.url, flag: parsed.flag, record: parsed.record });
    bindings.set(config, binding);
  }
  return binding;
}
