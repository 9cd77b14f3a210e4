import type { RouteShadowOptIn } from '@canary-kit/core';
import type { FastifyRequest } from 'fastify';

/**
 * How a route opts in to shadowing (mirroring its requests to shadow targets):
 *
 * - `true` — every target; `'v2'` or `['v2', 'v3']` — those targets by name;
 * - `{ targets, writes }` — `targets` as above (default `true`); `writes: true` also lets write methods
 *   (POST, PUT, PATCH, DELETE) that the target lists in its `methods` be mirrored. Without it a route's writes
 *   are never mirrored: a copy of a write repeats its side effects on the target.
 * - `false` — no opt-in (the same as leaving it out). It does not exclude the route from a target that picks
 *   it by `paths` or `flags`.
 */
export type CanaryShadowOptIn =
  | boolean
  | string
  | readonly string[]
  // Two shapes, each with one key required, so that an array or `{}` is not taken for the object form.
  | (CanaryShadowTargets & { readonly targets: CanaryShadowTargets['targets'] })
  | (CanaryShadowTargets & { readonly writes: boolean });

/** The object form of a route's shadow opt-in. */
export interface CanaryShadowTargets {
  /** Target names, or `true` (default) for every target. */
  readonly targets?: true | string | readonly string[];
  /** Also mirror the write methods the target lists in `methods`. Default false. */
  readonly writes?: boolean;
}

/** What a route declares in `config.canary`. */
export interface CanaryRouteConfig {
  /**
   * The flag this route is bound to. Its decision labels the route's `http_request_duration_seconds`
   * (`version="canary"|"stable"`) and picks the handler of `canaryHandler()`. When the flag names an
   * `upstream`, the route's canary share is proxied there.
   */
  flag?: string;
  /** `false` leaves the route out of `http_request_duration_seconds` (health checks, scrapes). Default true. */
  metrics?: boolean;
  /** Mirror this route's requests to shadow targets: `true`, a target name or names, or `{ targets, writes }`. */
  shadow?: CanaryShadowOptIn;
}

/** A route as canary-kit sees it, resolved once per route and shared by all of its requests. */
export interface RouteBinding {
  /** The route pattern (`/users/:id`), undefined when no route matched (404). */
  readonly url: string | undefined;
  /** The bound flag, if any. */
  readonly flag: string | undefined;
  /** Whether the route's requests are recorded in `http_request_duration_seconds`. */
  readonly record: boolean;
  /** The route's shadow opt-in, normalized for the core. */
  readonly shadow: RouteShadowOptIn | undefined;
}

export const UNMATCHED: RouteBinding = Object.freeze({
  url: undefined,
  flag: undefined,
  record: true,
  shadow: undefined,
});

export interface ParsedRouteConfig {
  readonly flag: string | undefined;
  readonly record: boolean;
  readonly shadow: RouteShadowOptIn | undefined;
}

const UNBOUND: ParsedRouteConfig = Object.freeze({ flag: undefined, record: true, shadow: undefined });

function targetNames(value: unknown, where: string, what: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((name) => typeof name !== 'string' || name === '')) {
    throw new TypeError(
      `canary-kit: ${where}: ${what} must be true, a target name or an array of target names`,
    );
  }
  return Object.freeze([...(list as string[])]);
}

function parseShadow(value: unknown, where: string): RouteShadowOptIn | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return Object.freeze({ targets: true, writes: false });
  if (typeof value === 'string' || Array.isArray(value)) {
    return Object.freeze({ targets: targetNames(value, where, 'config.canary.shadow'), writes: false });
  }
  if (value === null || typeof value !== 'object') {
    throw new TypeError(
      `canary-kit: ${where}: config.canary.shadow must be true, a target name, an array of names or { targets, writes }`,
    );
  }
  const { targets, writes, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new TypeError(
      `canary-kit: ${where}: config.canary.shadow has unknown key "${unknown[0]}" (expected targets, writes)`,
    );
  }
  if (writes !== undefined && typeof writes !== 'boolean') {
    throw new TypeError(`canary-kit: ${where}: config.canary.shadow.writes must be a boolean`);
  }
  return Object.freeze({
    targets:
      targets === undefined || targets === true
        ? true
        : targetNames(targets, where, 'config.canary.shadow.targets'),
    writes: writes === true,
  });
}

/**
 * Validates a route's `config.canary`. Throws a TypeError naming the route and the rule broken; called
 * from `onRoute`, so a bad binding fails at registration, not on a request.
 */
export function parseRouteConfig(value: unknown, where: string): ParsedRouteConfig {
  if (value === undefined || value === null) return UNBOUND;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`canary-kit: ${where}: config.canary must be an object like { flag: 'my-flag' }`);
  }
  const { flag, metrics, shadow } = value as Record<string, unknown>;
  if (flag !== undefined && (typeof flag !== 'string' || flag === '')) {
    throw new TypeError(`canary-kit: ${where}: config.canary.flag must be a non-empty string`);
  }
  if (metrics !== undefined && typeof metrics !== 'boolean') {
    throw new TypeError(`canary-kit: ${where}: config.canary.metrics must be a boolean`);
  }
  return { flag, record: metrics !== false, shadow: parseShadow(shadow, where) };
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
    let parsed: ParsedRouteConfig;
    try {
      parsed = parseRouteConfig(config.canary, `route ${String(config.method)} ${config.url}`);
    } catch (error) {
      // Only reachable for a route the onRoute check never saw; the request is still served, unbound.
      request.log.error({ err: error }, 'canary-kit: invalid config.canary; route treated as unbound');
      parsed = UNBOUND;
    }
    binding = Object.freeze({
      url: config.url,
      flag: parsed.flag,
      record: parsed.record,
      shadow: parsed.shadow,
    });
    bindings.set(config, binding);
  }
  return binding;
}
