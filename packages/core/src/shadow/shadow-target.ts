import type { NormalizedShadow } from '../config/validate-shadow.js';
import { compareResponses } from '../diff/compare-responses.js';
import { NoiseFilter } from '../diff/noise.js';
import { murmur3 } from '../evaluation/murmur3.js';
import { compilePathPatterns, type PathMatcher } from '../http/path-pattern.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
import { CircuitBreaker } from '../outbound/circuit-breaker.js';
import { outboundHeaders, SECRET_HEADERS } from '../outbound/headers.js';
import { OutboundClient, OutboundError, type OutboundResponse } from '../outbound/http-client.js';

/** Marks every copy a shadow target sends; a request carrying it is a copy and is not mirrored again. */
export const SHADOW_HEADER = 'x-canary-kit-shadow';

export type ShadowOutcome = 'match' | 'mismatch' | 'error' | 'timeout' | 'dropped' | 'skipped';
export const SHADOW_OUTCOMES: readonly ShadowOutcome[] = [
  'match',
  'mismatch',
  'error',
  'timeout',
  'dropped',
  'skipped',
];

/** One request and the primary's answer, as the adapter captured them. */
export interface CapturedExchange {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly route: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer | undefined;
  readonly bodyTruncated: boolean;
  /** The request's stickiness identity, for `sampleBy: 'identity'`. */
  readonly identity: string | undefined;
  readonly primary: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
    readonly body: Buffer | undefined;
    readonly truncated: boolean;
  };
}

export interface Difference {
  readonly path: string;
  readonly kind: string;
  readonly primary?: unknown;
  readonly candidate?: unknown;
}

/** What a `mismatch` event carries. */
export interface MismatchEvent {
  readonly target: string;
  readonly route: string;
  readonly method: string;
  readonly url: string;
  readonly primaryStatus: number;
  readonly candidateStatus: number;
  readonly differences: readonly Difference[];
  readonly truncated: boolean;
}

/** Methods that change state: mirrored only on routes that opt in with `writes` (they duplicate side effects). */
export const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** How a route opted in to shadowing (route config, route helper or decorator). */
export interface RouteShadowOptIn {
  /** Target names, or true for every target. */
  readonly targets: true | readonly string[];
  /** Also mirror write methods listed in the target's `methods`. */
  readonly writes: boolean;
}

export interface ShadowHooks {
  count(target: string, outcome: ShadowOutcome): void;
  duration(target: string, seconds: number): void;
  mismatch(event: MismatchEvent): void;
  error(error: Error): void;
}

/**
 * One shadow target: decides whether a request is mirrored, sends the copy fire-and-forget within a bound on
 * requests in flight, and diffs the answer against the primary's. Nothing here is awaited by the request:
 * `mirror` returns at once and every failure ends up as a counted outcome.
 */
export class ShadowTarget {
  readonly name: string;
  readonly options: NormalizedShadow;
  readonly #methods: ReadonlySet<string>;
  readonly #dropHeaders: ReadonlySet<string>;
  readonly #paths: PathMatcher | undefined;
  readonly #flags: ReadonlySet<string>;
  readonly #everything: boolean;
  readonly #client: OutboundClient;
  readonly #secondary: OutboundClient | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #noise: NoiseFilter | undefined;
  readonly #hooks: ShadowHooks;
  readonly #log: JsonlWriter | undefined;
  #inFlight = 0;
  #pending = new Set<Promise<void>>();

  constructor(options: NormalizedShadow, hooks: ShadowHooks) {
    this.name = options.name;
    this.options = options;
    this.#hooks = hooks;
    this.#methods = new Set(options.methods);
    this.#dropHeaders = new Set([...SECRET_HEADERS, ...options.stripHeaders]);
    this.#paths = options.paths.length > 0 ? compilePathPatterns(options.paths) : undefined;
    this.#flags = new Set(options.flags);
    // Neither paths nor flags: the target mirrors every eligible request, like nginx's mirror on `location /`.
    this.#everything = options.paths.length === 0 && options.flags.length === 0;
    this.#log = options.mismatchLog
      ? new JsonlWriter({
          path: options.mismatchLog.path,
          maxFileBytes: options.mismatchLog.maxFileBytes,
          maxFiles: options.mismatchLog.maxFiles,
          maxQueueLines: 1_000,
          onError: (error) => hooks.error(error),
        })
      : undefined;
    this.#client = new OutboundClient(options.target, { connections: Math.min(options.maxInFlight, 64) });
    this.#secondary = options.secondary
      ? new OutboundClient(options.secondary, { connections: Math.min(options.maxInFlight, 64) })
      : undefined;
    this.#breaker = options.circuitBreaker ? new CircuitBreaker(options.circuitBreaker) : undefined;
    this.#noise = options.secondary ? new NoiseFilter() : undefined;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get circuit(): string {
    return this.#breaker?.state ?? 'closed';
  }

  /** Whether a request with this method may be mirrored at all: decides, at request start, to capture its body. */
  considers(method: string): boolean {
    return this.#methods.has(method);
  }

  /**
   * Whether this request is mirrored: its method is listed (a write method also needs the route's `writes`
   * opt-in), it is chosen by path, bound flag or route opt-in, and it falls in the sampled share.
   */
  wants(
    method: string,
    url: string,
    flag: string | undefined,
    optIn: RouteShadowOptIn | undefined,
    identity: string | undefined,
  ): boolean {
    if (!this.#methods.has(method)) return false;
    if (WRITE_METHODS.has(method) && !optIn?.writes) return false;
    const chosen =
      this.#everything ||
      (optIn !== undefined && (optIn.targets === true || optIn.targets.includes(this.name))) ||
      (flag !== undefined && this.#flags.has(flag)) ||
      (this.#paths !== undefined && this.#paths(url));
    if (!chosen) return false;
    const o = this.options;
    if (o.percentage >= 100) return true;
    if (o.percentage <= 0) return false;
    const bucket =
      o.sampleBy === 'identity' && identity !== undefined
        ? murmur3(`shadow:${this.name}:${identity}`) % 10_000
        : Math.floor(Math.random() * 10_000);
    return bucket < o.percentage * 100;
  }

  /**
   * Whether a copy can go now: false (counted as dropped) when `maxInFlight` copies are out or the circuit is
   * open. Checked before the copy is assembled, so a dropped copy costs nothing more.
   */
  admit(): boolean {
    if (this.#inFlight >= this.options.maxInFlight || (this.#breaker && !this.#breaker.allow())) {
      this.#hooks.count(this.name, 'dropped');
      return false;
    }
    return true;
  }

  /** Sends an admitted copy and diffs the answer, without being awaited. */
  mirror(exchange: CapturedExchange): void {
    // A copy we (or another canary-kit) sent is never mirrored again: a candidate that shadows too would
    // otherwise send copies of copies, a loop that multiplies traffic.
    if (exchange.bodyTruncated || exchange.headers[SHADOW_HEADER] !== undefined) {
      this.#hooks.count(this.name, 'skipped');
      return;
    }
    this.#inFlight++;
    const run = this.#run(exchange)
      .catch((error) => this.#hooks.error(error as Error))
      .finally(() => {
        this.#inFlight--;
        this.#pending.delete(run);
      });
    this.#pending.add(run);
  }

  async #send(
    client: OutboundClient,
    exchange: CapturedExchange,
    secondary: boolean,
  ): Promise<OutboundResponse> {
    return client.request({
      method: exchange.method,
      path: exchange.url,
      headers: outboundHeaders(exchange.headers, {
        drop: this.#dropHeaders,
        targetHost: client.host,
        add: { [SHADOW_HEADER]: secondary ? 'secondary' : '1' },
      }),
      body: exchange.body,
      timeoutMs: this.options.timeoutMs,
      maxResponseBytes: this.options.maxResponseBytes,
    });
  }

  async #run(exchange: CapturedExchange): Promise<void> {
    const started = performance.now();
    const secondaryAnswer = this.#secondary
      ? this.#send(this.#secondary, exchange, true).catch(() => undefined)
      : undefined;
    let answer: OutboundResponse;
    try {
      answer = await this.#send(this.#client, exchange, false);
    } catch (error) {
      this.#breaker?.failure();
      this.#hooks.count(
        this.name,
        error instanceof OutboundError && error.kind === 'timeout' ? 'timeout' : 'error',
      );
      await secondaryAnswer;
      return;
    }
    this.#breaker?.success();
    this.#hooks.duration(this.name, (performance.now() - started) / 1000);

    const primary = {
      status: exchange.primary.status,
      headers: exchange.primary.headers,
      body: exchange.primary.body,
      bodyTruncated: exchange.primary.truncated,
    };
    const candidate = {
      status: answer.status,
      headers: answer.headers,
      body: answer.body,
      bodyTruncated: answer.truncated,
    };
    const result = await compareResponses(primary, candidate, this.options.diff);
    let differences: readonly Difference[] = result.differences;
    let outcome: ShadowOutcome = result.outcome;

    if (this.#noise && secondaryAnswer) {
      const second = await secondaryAnswer;
      if (second) {
        const noise = await compareResponses(
          primary,
          {
            status: second.status,
            headers: second.headers,
            body: second.body,
            bodyTruncated: second.truncated,
          },
          this.options.diff,
        );
        // The noise rates assume every observed request was compared on both sides.
        if (result.outcome !== 'skipped' && noise.outcome !== 'skipped')
          this.#noise.observe(result.differences, noise.differences);
        if (outcome === 'mismatch') {
          differences = this.#noise.filter(result.differences);
          if (differences.length === 0) outcome = 'match';
        }
      }
    }

    this.#hooks.count(this.name, outcome);
    if (outcome === 'mismatch') {
      const event: MismatchEvent = {
        target: this.name,
        route: exchange.route,
        method: exchange.method,
        url: exchange.url,
        primaryStatus: exchange.primary.status,
        candidateStatus: answer.status,
        differences,
        truncated: result.truncated,
      };
      this.#hooks.mismatch(event);
      this.#log?.write({ ts: new Date().toISOString(), ...event });
    }
  }

  /** The noise filter's view of each field (only with a secondary target). */
  noiseReport() {
    return this.#noise?.report();
  }

  /** Mismatch log lines written, dropped and failed. */
  get logCounts() {
    return this.#log?.counts;
  }

  /** Aborts copies in flight, then closes the pools and flushes the mismatch log. */
  async close(): Promise<void> {
    // Closing the pools aborts copies still in flight: shutdown never waits on a hung target.
    await Promise.allSettled([this.#client.close(), this.#secondary?.close()]);
    await Promise.allSettled([...this.#pending]);
    await this.#log?.close();
  }
}
