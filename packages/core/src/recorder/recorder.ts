import { randomUUID } from 'node:crypto';
import { compilePathPatterns, type PathMatcher } from '../http/path-pattern.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
import type { NormalizedRecorder } from './config.js';
import { RECORDING_VERSION, type RecordV1 } from './format.js';
import { type HeaderInput, Redactor } from './redact.js';

/** One finished exchange as an adapter captured it, before redaction. */
export interface RecordedExchange {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: HeaderInput;
  /** The raw request body up to the capture limit; undefined when there was none (or it was not captured). */
  readonly body: Buffer | undefined;
  /** Cut at the limit, or not read to its end. */
  readonly bodyTruncated: boolean;
  /** Who served: `stable`, `canary`, or the service's version label. */
  readonly version: string;
  readonly status: number;
  /** The response headers as sent; a function is called only when responses are recorded. */
  readonly responseHeaders: HeaderInput | (() => HeaderInput) | undefined;
  readonly responseBody: Buffer | undefined;
  readonly responseTruncated: boolean;
  readonly durationMs: number;
}

/** The first `limit` bytes; the same Buffer when it fits (so callers can tell it was not cut). */
function cut(body: Buffer | undefined, limit: number): Buffer | undefined {
  return body === undefined || body.length <= limit ? body : body.subarray(0, limit);
}

/** `canary_kit_recorder_records_total{outcome}`. */
export type RecorderOutcome = 'written' | 'dropped' | 'error';
export const RECORDER_OUTCOMES: readonly RecorderOutcome[] = ['written', 'dropped', 'error'];
export type RecorderCounts = Record<RecorderOutcome, number>;

export interface RecorderHooks {
  /** Told about a record that could not be built and about every write error. Must not throw (it is caught). */
  error?(error: Error): void;
  /** Uniform in [0, 1), for `sampleRate`. Default Math.random; tests inject a sequence. */
  random?(): number;
}

/**
 * Samples requests as they start and writes the sampled exchanges, redacted, as JSONL v1 through a bounded
 * queue. Nothing here can fail or slow a request: `sample` is a few set and regex tests, `record` redacts and
 * queues (or drops and counts) and returns, and the disk is written off the request path.
 */
export class Recorder {
  readonly config: NormalizedRecorder;
  readonly #writer: JsonlWriter;
  readonly #redactor: Redactor;
  readonly #methods: ReadonlySet<string> | undefined;
  readonly #include: PathMatcher | undefined;
  readonly #exclude: PathMatcher | undefined;
  readonly #random: () => number;
  readonly #onError: ((error: Error) => void) | undefined;
  /** Records that could not be built (counted as `error`) or arrived after close (`dropped`). */
  #errors = 0;
  #dropped = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(config: NormalizedRecorder, hooks: RecorderHooks = {}) {
    this.config = config;
    this.#onError = hooks.error;
    this.#random = hooks.random ?? Math.random;
    this.#methods = config.methods === undefined ? undefined : new Set(config.methods);
    this.#include = config.include.length > 0 ? compilePathPatterns(config.include) : undefined;
    this.#exclude = config.exclude.length > 0 ? compilePathPatterns(config.exclude) : undefined;
    this.#redactor = new Redactor(config);
    this.#writer = new JsonlWriter({
      path: config.path,
      maxFileBytes: config.maxFileBytes,
      maxFiles: config.maxFiles,
      maxQueueLines: config.maxQueueLines,
      maxQueueBytes: config.maxQueueBytes,
      onError: (error) => this.#report(error),
    });
  }

  /** Records by outcome since the recorder was created. */
  get counts(): RecorderCounts {
    const w = this.#writer.counts;
    return { written: w.written, dropped: w.dropped + this.#dropped, error: w.error + this.#errors };
  }

  /** Records waiting for the disk. */
  get queued(): number {
    return this.#writer.queued;
  }

  /** Request body bytes to capture for a sampled request. */
  get requestLimit(): number {
    return this.config.maxBodyBytes;
  }

  /** Response body bytes to capture for a sampled request: 0 unless responses are recorded. */
  get responseLimit(): number {
    return this.config.withResponse ? this.config.maxBodyBytes : 0;
  }

  /**
   * Called when a request starts: whether to capture and record it. Method, include, exclude, then the
   * sample rate — the coin is tossed only for an eligible request, so `sampleRate` is a share of those.
   */
  sample(method: string, url: string): boolean {
    if (this.#closed || typeof method !== 'string' || typeof url !== 'string') return false;
    const methods = this.#methods;
    if (methods !== undefined && !methods.has(method) && !methods.has(method.toUpperCase())) return false;
    if (this.#include !== undefined && !this.#include(url)) return false;
    if (this.#exclude?.(url)) return false;
    const rate = this.config.sampleRate;
    if (rate >= 1) return true;
    if (rate <= 0) return false;
    try {
      return this.#random() < rate;
    } catch {
      // An injected random source that fails means "not sampled", never a failed request.
      return false;
    }
  }

  /** Called when a sampled exchange has finished: redacts it and queues it. Never throws, never waits. */
  record(exchange: RecordedExchange): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    let record: RecordV1;
    try {
      record = this.#build(exchange);
    } catch (error) {
      // A record that cannot be redacted is never written, not even partly.
      this.#errors++;
      this.#report(error);
      return;
    }
    this.#writer.write(record);
  }

  #build(exchange: RecordedExchange): RecordV1 {
    const redactor = this.#redactor;
    const durationMs =
      typeof exchange.durationMs === 'number' &&
      Number.isFinite(exchange.durationMs) &&
      exchange.durationMs > 0
        ? Math.round(exchange.durationMs * 1000) / 1000
        : 0;
    const headers = exchange.headers ?? {};
    const limit = this.config.maxBodyBytes;
    // The capture may be sized for a shadow target wanting more: the recorder keeps its own limit.
    const body = cut(exchange.body, limit);
    let responseHeaders: RecordV1['response_headers'] = null;
    let responseBody: string | null = null;
    let responseTruncated = false;
    if (this.config.withResponse) {
      const raw =
        typeof exchange.responseHeaders === 'function'
          ? exchange.responseHeaders()
          : exchange.responseHeaders;
      const rawHeaders = raw ?? {};
      responseHeaders = redactor.headers(rawHeaders);
      const bytes = cut(exchange.responseBody, limit);
      responseBody =
        bytes === undefined || bytes.length === 0 ? '' : redactor.body(bytes, rawHeaders).toString('base64');
      responseTruncated = exchange.responseTruncated === true || bytes !== exchange.responseBody;
    }
    return {
      v: RECORDING_VERSION,
      id: randomUUID(),
      // The request's start: replays are paced and ordered by arrival.
      ts: new Date(Date.now() - durationMs).toISOString(),
      method: String(exchange.method).toUpperCase(),
      url: redactor.url(String(exchange.url)),
      headers: redactor.headers(headers),
      body: body === undefined || body.length === 0 ? '' : redactor.body(body, headers).toString('base64'),
      body_truncated: exchange.bodyTruncated === true || body !== exchange.body,
      version: String(exchange.version),
      status: exchange.status,
      response_headers: responseHeaders,
      response_body: responseBody,
      response_body_truncated: responseTruncated,
      duration_ms: durationMs,
    };
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A throwing error hook must not turn into a failing request.
    }
  }

  /** Resolves when every record queued so far is written (or counted as an error). */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /** Flushes and closes the file. Later records are dropped and counted. Safe to call more than once. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#writer.close();
    return this.#closing;
  }
}
