import { Pool } from 'undici';

/** Why an outbound request failed, as the metrics and failover logic need it. */
export type OutboundFailure = 'timeout' | 'connect' | 'reset' | 'protocol' | 'aborted';

export class OutboundError extends Error {
  readonly kind: OutboundFailure;
  constructor(kind: OutboundFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboundError';
    this.kind = kind;
  }
}

export interface OutboundRequest {
  method: string;
  /** Path and query, appended to the target's base path. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer | undefined;
  /** Total time for headers and body. */
  timeoutMs: number;
  /** Response bytes kept; the rest is discarded and `truncated` set (the socket is then closed, not reused). */
  maxResponseBytes: number;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  truncated: boolean;
  durationMs: number;
}

export interface OutboundClientOptions {
  /** Keep-alive connections to the target. Default 16. */
  connections?: number;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

function classify(error: unknown, timedOut: boolean): OutboundError {
  if (error instanceof OutboundError) return error;
  const e = error as { code?: string; name?: string; message?: string };
  const code = e?.code ?? '';
  let kind: OutboundFailure;
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') kind = 'timeout';
  else if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH'
  )
    kind = 'connect';
  else if (
    code === 'UND_ERR_SOCKET' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'UND_ERR_CLOSED'
  )
    kind = 'reset';
  else if (code === 'HPE_INVALID_CONSTANT' || code.startsWith('HPE_') || e?.name === 'HTTPParserError')
    kind = 'protocol';
  else if (code === 'UND_ERR_ABORTED' || e?.name === 'AbortError') kind = 'aborted';
  else kind = 'protocol';
  return new OutboundError(kind, `${kind}: ${e?.message ?? String(error)}`, { cause: error });
}

/**
 * A keep-alive undici pool to one target, with a total deadline per request and a cap on the bytes read back.
 * Every response body is either read to the end or destroyed, so no socket leaks whatever the target does.
 */
export class OutboundClient {
  readonly origin: string;
  readonly basePath: string;
  readonly #pool: Pool;

  constructor(target: string | URL, options: OutboundClientOptions = {}) {
    const url = new URL(target);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`${url.href}: only http and https targets`);
    this.origin = url.origin;
    this.basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    this.#pool = new Pool(this.origin, {
      connections: options.connections ?? 16,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      pipelining: 1,
    });
  }

  /** `host:port` of the target, for the Host header. */
  get host(): string {
    return new URL(this.origin).host;
  }

  async request(request: OutboundRequest): Promise<OutboundResponse> {
    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, request.timeoutMs);
    timer.unref();
    try {
      const response = await this.#pool.request({
        method: request.method as 'GET',
        path: this.basePath + request.path,
        headers: request.headers,
        body: request.body && request.body.length > 0 ? request.body : null,
        signal: controller.signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      try {
        for await (const chunk of response.body) {
          const buffer = chunk as Buffer;
          if (kept + buffer.length > request.maxResponseBytes) {
            const room = request.maxResponseBytes - kept;
            if (room > 0) chunks.push(buffer.subarray(0, room));
            kept += Math.max(room, 0);
            truncated = true;
            break;
          }
          chunks.push(buffer);
          kept += buffer.length;
        }
      } finally {
        // Breaking out of the loop leaves the rest unread: destroy it so the socket is not left half-read.
        if (truncated || !response.body.readableEnded) {
          response.body.on('error', () => {}); // the abort error destroy() causes is expected
          response.body.destroy();
        }
      }
      return {
        status: response.statusCode,
        headers: response.headers as Record<string, string | string[]>,
        body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept),
        truncated,
        durationMs: performance.now() - started,
      };
    } catch (error) {
      throw classify(error, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes idle sockets and aborts in-flight requests. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
