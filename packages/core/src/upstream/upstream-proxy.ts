import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { CircuitBreaker } from '../outbound/circuit-breaker.js';
import { type HeaderMap, inboundHeaders, outboundHeaders } from '../outbound/headers.js';
import { OutboundError } from '../outbound/http-client.js';

export type FailoverReason =
  | 'connect'
  | 'timeout'
  | 'reset'
  | 'status_5xx'
  | 'circuit_open'
  | 'unhealthy'
  | 'protocol'
  /** The request body was consumed before the route ran and could not be forwarded (too large to keep). */
  | 'body_unavailable';
export const FAILOVER_REASONS: readonly FailoverReason[] = [
  'connect',
  'timeout',
  'reset',
  'status_5xx',
  'circuit_open',
  'unhealthy',
  'protocol',
  'body_unavailable',
];

/** Methods that may be sent twice: only these fail over to the local stable handler (RFC 9110 §9.2.2). */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface UpstreamOptions {
  readonly url: string;
  /** Time to the upstream's response headers. Default 5000 ms. */
  readonly timeoutMs: number;
  /** Idle time allowed while streaming the body. Default 30 s. */
  readonly bodyTimeoutMs: number;
  readonly connections: number;
  readonly circuitBreaker: { readonly failureThreshold: number; readonly cooldownMs: number } | false;
  /** Active health check: GET `path` every `intervalMs`; a non-2xx or failure marks the upstream down. */
  readonly healthCheck:
    | { readonly path: string; readonly intervalMs: number; readonly timeoutMs: number }
    | undefined;
}

export interface ForwardRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderMap;
  /** A buffered body (idempotent requests, so failover can still hand it to the local handler) or the live stream. */
  readonly body: Buffer | Readable | undefined;
  readonly remoteAddress: string | undefined;
  readonly protocol: 'http' | 'https';
}

export type ForwardResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly headers: Record<string, string | string[]>;
      readonly body: Readable;
    }
  /** `failover`: serve it locally with stable. Otherwise the request cannot be retried: answer 502/504. */
  | {
      readonly ok: false;
      readonly reason: FailoverReason;
      readonly failover: boolean;
      readonly error?: Error;
    };

function reasonOf(error: unknown): FailoverReason {
  const code = (error as { code?: string })?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_ABORTED')
    return code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return 'connect';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (error instanceof OutboundError)
    return error.kind === 'aborted' ? 'timeout' : (error.kind as FailoverReason);
  return 'protocol';
}

/**
 * Proxies the canary share of a flag's routes to the new service: keep-alive pool, bodies streamed both ways,
 * hop-by-hop headers removed, X-Forwarded-* added. The caller streams the returned body to its client; when the
 * upstream is down, slow, or answers 5xx to an idempotent request, the result says to fail over instead, before
 * a byte of the response was sent.
 */
export class UpstreamProxy {
  readonly url: string;
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #host: string;
  readonly #options: UpstreamOptions;
  readonly #breaker: CircuitBreaker | undefined;
  #healthy = true;
  #healthTimer: NodeJS.Timeout | undefined;

  constructor(options: UpstreamOptions) {
    const url = new URL(options.url);
    this.url = options.url;
    this.#options = options;
    this.#basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    this.#host = url.host;
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      keepAliveTimeout: 4_000,
      connectTimeout: options.timeoutMs,
    });
    this.#breaker = options.circuitBreaker ? new CircuitBreaker(options.circuitBreaker) : undefined;
    if (options.healthCheck) this.#scheduleHealthCheck(0);
  }

  /** False while the active health check says the upstream is down. */
  get healthy(): boolean {
    return this.#healthy;
  }

  get circuit(): string {
    return this.#breaker?.state ?? 'closed';
  }

  async forward(request: ForwardRequest): Promise<ForwardResult> {
    const idempotent =
      IDEMPOTENT.has(request.method) && !(request.body !== undefined && !Buffer.isBuffer(request.body));
    if (!this.#healthy) return { ok: false, reason: 'unhealthy', failover: true };
    if (this.#breaker && !this.#breaker.allow()) return { ok: false, reason: 'circuit_open', failover: true };

    const headers = outboundHeaders(request.headers, { drop: new Set(), targetHost: this.#host });
    const forwardedFor = request.headers['x-forwarded-for'];
    const chain = [forwardedFor, request.remoteAddress].filter(
      (v): v is string => typeof v === 'string' && v !== '',
    );
    if (chain.length > 0) headers['x-forwarded-for'] = chain.join(', ');
    headers['x-forwarded-proto'] = request.protocol;
    if (request.headers['content-length'] !== undefined && Buffer.isBuffer(request.body))
      headers['content-length'] = String(request.body.length);
    else if (request.headers['content-length'] !== undefined)
      headers['content-length'] = String(request.headers['content-length']);

    // undici's own headersTimeout runs on coarse timers (≈ 1 s granularity): a precise deadline of our own
    // aborts the request when the upstream has not answered in time. It is cleared once headers arrive, so it
    // never cuts a body being streamed (bodyTimeout guards that).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#options.timeoutMs);
    timer.unref();
    try {
      const response = await this.#pool
        .request({
          method: request.method as 'GET',
          path: this.#basePath + request.url,
          headers,
          body: request.body ?? null,
          signal: deadline.signal,
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.bodyTimeoutMs,
        })
        .finally(() => clearTimeout(timer));
      if (response.statusCode >= 500 && idempotent) {
        // Destroying a body undici is still reading emits an abort error: listen, or it crashes the process.
        response.body.on('error', () => {});
        response.body.destroy();
        this.#breaker?.failure();
        return { ok: false, reason: 'status_5xx', failover: true };
      }
      if (response.statusCode >= 500) this.#breaker?.failure();
      else this.#breaker?.success();
      return {
        ok: true,
        status: response.statusCode,
        headers: inboundHeaders(response.headers as HeaderMap),
        body: response.body,
      };
    } catch (error) {
      this.#breaker?.failure();
      const reason = deadline.signal.aborted ? 'timeout' : reasonOf(error);
      return { ok: false, reason, failover: idempotent, error: error as Error };
    }
  }

  #scheduleHealthCheck(delayMs: number): void {
    const check = this.#options.healthCheck!;
    this.#healthTimer = setTimeout(async () => {
      try {
        const response = await this.#pool.request({
          method: 'GET',
          path: this.#basePath + check.path,
          headers: { host: this.#host, 'user-agent': 'canary-kit-health-check' },
          headersTimeout: check.timeoutMs,
          bodyTimeout: check.timeoutMs,
        });
        await response.body.dump();
        this.#healthy = response.statusCode >= 200 && response.statusCode < 300;
      } catch {
        this.#healthy = false;
      }
      if (this.#healthTimer) this.#scheduleHealthCheck(check.intervalMs);
    }, delayMs);
    this.#healthTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#healthTimer) clearTimeout(this.#healthTimer);
    this.#healthTimer = undefined;
    await this.#pool.destroy();
  }
}
