/** Header hygiene for every request canary-kit sends to another service (shadow copies, upstream proxying). */

export type HeaderMap = Record<string, string | string[] | undefined>;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and friends: they describe one connection and never travel on. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Credentials never copied to a shadow target (a candidate must not act as the user). */
export const SECRET_HEADERS: readonly string[] = [
  'authorization',
  'cookie',
  'proxy-authorization',
  'x-api-key',
];

export interface OutboundHeaderOptions {
  /** Lower-case names to drop besides the hop-by-hop ones. */
  readonly drop: ReadonlySet<string>;
  /** Headers to set last (e.g. `x-canary-kit-shadow: 1`). */
  readonly add?: Readonly<Record<string, string>>;
  /** The target's `host:port`: Host is rewritten to it, the original kept in `x-forwarded-host`. */
  readonly targetHost: string;
}

/**
 * Copies request headers for another service: hop-by-hop headers and those named by `Connection` go, the
 * configured ones go, `content-length` goes (the client recomputes it from the body it sends), Host becomes the
 * target's. Returns a new object; the original request is untouched.
 */
export function outboundHeaders(
  headers: HeaderMap,
  options: OutboundHeaderOptions,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const named = new Set<string>();
  if (connection !== undefined) {
    for (const token of String(connection).split(',')) named.add(token.trim().toLowerCase());
  }
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || options.drop.has(name)) continue;
    if (name === 'host' || name === 'content-length') continue;
    out[name] = value;
  }
  const originalHost = headers.host;
  if (typeof originalHost === 'string' && out['x-forwarded-host'] === undefined)
    out['x-forwarded-host'] = originalHost;
  out.host = options.targetHost;
  if (options.add) for (const [k, v] of Object.entries(options.add)) out[k] = v;
  return out;
}

/** Response headers a proxy passes back to the client: hop-by-hop ones removed. */
export function inboundHeaders(headers: HeaderMap): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const named = new Set<string>();
  if (connection !== undefined) {
    for (const token of String(connection).split(',')) named.add(token.trim().toLowerCase());
  }
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}
