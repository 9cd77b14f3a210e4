import { looseName, REDACTED } from './redact-json.js';

function decodeName(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * Whether a parameter name is listed. Bracket and dot notation (`user[password]`, `user.password`,
 * `tokens[0]`) is split, and any listed part counts: what sits under a secret's name is secret too.
 */
function isListed(rawName: string, names: ReadonlySet<string>): boolean {
  const name = decodeName(rawName);
  if (names.has(looseName(name))) return true;
  if (!/[[\].]/.test(name)) return false;
  for (const part of name.split(/[[\].]+/)) if (part !== '' && names.has(looseName(part))) return true;
  return false;
}

/**
 * Redacts the values of listed parameters in `a=1&b=2` text (a query string or a form body). Everything else —
 * order, other parameters, their encoding, empty pieces — stays byte-for-byte; a listed name keeps its own
 * spelling and gets the marker as its value. A piece without `=` has no value to hide.
 */
export function redactPairs(text: string, names: ReadonlySet<string>): string {
  if (text === '' || names.size === 0) return text;
  const pieces = text.split('&');
  let changed = false;
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    const eq = piece.indexOf('=');
    if (eq === -1) continue;
    const name = piece.slice(0, eq);
    if (isListed(name, names)) {
      pieces[i] = `${name}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? pieces.join('&') : text;
}

/** Credentials in an absolute URL's authority (`http://user:pass@host/`, as proxies receive). */
const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/;

/**
 * Redacts a request URL: listed query parameters, any userinfo, and listed parameters in a fragment (browsers
 * never send one, but a hand-written client might, OAuth-style `#access_token=…`). The path is kept as is (a
 * secret in a path segment is not recognisable as one: exclude such routes instead).
 */
export function redactUrl(url: string, names: ReadonlySet<string>): string {
  const out = USERINFO.test(url) ? url.replace(USERINFO, `$1${REDACTED}@`) : url;
  const hash = out.indexOf('#');
  const beforeHash = hash === -1 ? out : out.slice(0, hash);
  const fragment = hash === -1 ? undefined : out.slice(hash + 1);
  const q = beforeHash.indexOf('?');
  const base =
    q === -1 ? beforeHash : `${beforeHash.slice(0, q + 1)}${redactPairs(beforeHash.slice(q + 1), names)}`;
  return fragment === undefined ? base : `${base}#${redactPairs(fragment, names)}`;
}
