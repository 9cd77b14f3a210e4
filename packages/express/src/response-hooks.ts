import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

type WriteHead = ServerResponse['writeHead'];

/**
 * Runs `listener` once, just before the response's headers are fixed: every way Node sends headers
 * (`writeHead`, or the implicit one of the first `write`/`end`) goes through `res.writeHead`, so wrapping it
 * per response sees the final header set. Headers handed to `writeHead` itself are applied first, with
 * Node's own semantics (they override earlier ones), so the listener can add to them instead of being
 * overwritten by them.
 */
export function beforeHeaders(res: ServerResponse, listener: (res: ServerResponse) => void): void {
  const writeHead: WriteHead = res.writeHead;
  let fired = false;
  res.writeHead = function canaryKitWriteHead(this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    if (fired || this.headersSent)
      return writeHead.apply(this, [statusCode, ...rest] as Parameters<WriteHead>);
    fired = true;
    let args = rest;
    try {
      const statusMessage = typeof rest[0] === 'string' ? rest[0] : undefined;
      // writeHead(status, headers), writeHead(status, message, headers); Node also takes (status, undefined, headers).
      const headers = statusMessage === undefined ? (rest[0] ?? rest[1]) : rest[1];
      if (headers !== undefined && headers !== null) applyHeaders(this, headers);
      args = statusMessage === undefined ? [] : [statusMessage];
    } catch {
      // A header Node rejects: leave the arguments alone so Node reports it exactly as it would without us.
      return writeHead.apply(this, [statusCode, ...rest] as Parameters<WriteHead>);
    }
    try {
      listener(this);
    } catch {
      // Whatever canary-kit wanted to add, the response goes out without it rather than not at all.
    }
    return writeHead.apply(this, [statusCode, ...args] as Parameters<WriteHead>);
  } as WriteHead;
}

/** What `writeHead(status, headers)` does with `headers` when headers were already set on the response. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    // Raw form [name, value, name, value, ...]: replaces earlier values, keeps explicit duplicates.
    if (headers.length % 2 !== 0) throw new TypeError('odd raw header list');
    for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i]) res.appendHeader(String(headers[i]), headers[i + 1]);
    return;
  }
  if (typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (name && value !== undefined) res.setHeader(name, value);
    }
  }
}

/**
 * Adds a `Set-Cookie` value next to the ones the app set, unless the app already sets a cookie of that
 * name itself (it decided, e.g. clearing it).
 */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('set-cookie');
  if (existing !== undefined) {
    const prefix = cookie.slice(0, cookie.indexOf('=') + 1);
    const values = Array.isArray(existing) ? existing : [String(existing)];
    if (values.some((v) => v.trimStart().startsWith(prefix))) return;
  }
  res.appendHeader('Set-Cookie', cookie);
}
