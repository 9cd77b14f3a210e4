import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Override values force a version for a request: `always` (canary) or `never` (stable), for every flag or
 * per flag. Grammar, in a header or a cookie:
 *
 *   value   = item *( "," item ) [ ",exp=" unix-seconds ",sig=" base64url(hmac-sha256(secret, payload)) ]
 *   item    = "always" | "never" | flag "=" ( "always" | "never" )
 *
 * where `payload` is every byte before `,sig=`. A signed value is honoured from anyone until `exp`; an
 * unsigned one only when the configured `trust(context)` says so.
 */

export type OverrideValue = 'always' | 'never';

export interface ParsedOverride {
  readonly global: OverrideValue | undefined;
  readonly flags: ReadonlyMap<string, OverrideValue> | undefined;
  /** Unix seconds, present on signed values. */
  readonly exp: number | undefined;
  readonly signed: boolean;
}

export type OverrideOutcome = 'honoured' | 'untrusted' | 'invalid' | 'expired' | 'bad-signature';

export const OVERRIDE_OUTCOMES: readonly OverrideOutcome[] = [
  'honoured',
  'untrusted',
  'invalid',
  'expired',
  'bad-signature',
];

/** Longer values are refused unread: no override needs more, and parsing stays cheap. */
export const MAX_OVERRIDE_LENGTH = 2048;

const SIG_MARK = ',sig=';

function hmac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/** Parses the items of a value; undefined when any item is malformed (the whole value is then rejected). */
function parseItems(
  payload: string,
): { global?: OverrideValue; flags?: Map<string, OverrideValue>; exp?: number } | undefined {
  let global: OverrideValue | undefined;
  let flags: Map<string, OverrideValue> | undefined;
  let exp: number | undefined;
  for (const raw of payload.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item === 'always' || item === 'never') {
      global = item;
      continue;
    }
    const eq = item.indexOf('=');
    if (eq <= 0) return undefined;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 'exp') {
      if (!/^\d{1,12}$/.test(value)) return undefined;
      exp = Number(value);
    } else if (value === 'always' || value === 'never') {
      flags ??= new Map();
      flags.set(key, value);
    } else return undefined;
  }
  if (global === undefined && flags === undefined) return undefined;
  return { global, flags, exp };
}

export type ParseResult =
  | { readonly outcome: 'ok'; readonly override: ParsedOverride }
  | { readonly outcome: 'invalid' | 'expired' | 'bad-signature' };

/**
 * Parses one override value and checks its signature when it has one. `secrets` verify (any may match);
 * `nowSeconds` is the clock for `exp`.
 */
export function parseOverride(raw: string, secrets: readonly string[], nowSeconds: number): ParseResult {
  if (raw.length === 0 || raw.length > MAX_OVERRIDE_LENGTH) return { outcome: 'invalid' };
  const sigAt = raw.lastIndexOf(SIG_MARK);
  if (sigAt === -1) {
    const items = parseItems(raw);
    if (!items || items.exp !== undefined) return { outcome: 'invalid' };
    return {
      outcome: 'ok',
      override: { global: items.global, flags: items.flags, exp: undefined, signed: false },
    };
  }
  const payload = raw.slice(0, sigAt);
  const sig = raw.slice(sigAt + SIG_MARK.length).trim();
  const items = parseItems(payload);
  if (!items || items.exp === undefined || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return { outcome: 'invalid' };
  const given = Buffer.from(sig, 'base64url');
  const valid = secrets.some((secret) => {
    const expected = hmac(secret, payload);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!valid) return { outcome: 'bad-signature' };
  if (items.exp <= nowSeconds) return { outcome: 'expired' };
  return {
    outcome: 'ok',
    override: { global: items.global, flags: items.flags, exp: items.exp, signed: true },
  };
}

export interface SignOverrideOptions {
  /** `always` / `never` for every flag, or a map of flag key to value. */
  overrides: OverrideValue | Readonly<Record<string, OverrideValue>>;
  /** Lifetime in seconds from now (default 3600), or an absolute `expiresAt` date. */
  expiresInSeconds?: number;
  expiresAt?: Date;
  /** The signing key: the first of `overrides.secret`. */
  secret: string;
  /** Clock, for tests. */
  now?: () => number;
}

/** Builds a signed override value for the `x-canary` header or `canary` cookie. */
export function signOverride(options: SignOverrideOptions): string {
  const { overrides, secret } = options;
  if (typeof secret !== 'string' || secret.length < 16)
    throw new TypeError('signOverride: secret must be at least 16 characters');
  const items =
    typeof overrides === 'string'
      ? [overrides]
      : Object.entries(overrides).map(([flag, value]) => `${flag}=${value}`);
  for (const item of items) {
    if (!/^(always|never|[A-Za-z0-9_][A-Za-z0-9_.:/-]*=(always|never))$/.test(item)) {
      throw new TypeError(`signOverride: "${item}" is not an override item (flag=always|never)`);
    }
  }
  if (items.length === 0) throw new TypeError('signOverride: no overrides given');
  const nowMs = options.now ? options.now() : Date.now();
  const exp = options.expiresAt
    ? Math.floor(options.expiresAt.getTime() / 1000)
    : Math.floor(nowMs / 1000) + (options.expiresInSeconds ?? 3600);
  const payload = `${items.join(',')},exp=${exp}`;
  return `${payload}${SIG_MARK}${hmac(secret, payload).toString('base64url')}`;
}
