/**
 * The one cookie canary-kit needs from a `Cookie` header, found without parsing the rest. Returns
 * undefined when absent; `null` when the header is malformed around it (the caller counts and skips it).
 */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined | null {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (typeof text !== 'string' || text.length > 16_384) return null;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq !== -1 && eq < end && text.slice(start, eq).trim() === name) {
      let value = text.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/.test(value) ? value : null;
    }
    start = end + 1;
  }
  return undefined;
}

export interface SetCookieOptions {
  maxAgeSeconds: number;
  secure: boolean;
  path: string;
  domain: string | undefined;
}

/** A `Set-Cookie` value for an HttpOnly, SameSite=Lax cookie. */
export function serializeCookie(name: string, value: string, options: SetCookieOptions): string {
  let cookie = `${name}=${value}; Path=${options.path}; Max-Age=${options.maxAgeSeconds}; HttpOnly; SameSite=Lax`;
  if (options.domain) cookie += `; Domain=${options.domain}`;
  if (options.secure) cookie += '; Secure';
  return cookie;
}
