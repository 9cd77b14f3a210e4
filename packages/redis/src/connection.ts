import { Redis, type RedisOptions } from 'ioredis';

/** How a lost connection is retried: capped exponential backoff with jitter. */
export interface ReconnectOptions {
  /** First delay. Default 50 ms. */
  minDelayMs?: number;
  /** Longest delay between attempts. Default 2,000 ms. */
  maxDelayMs?: number;
}

export interface ConnectionOptions {
  /** `redis://[:password@]host:port[/db]`. Ignored when `client` is given. */
  url?: string;
  /** Your own ioredis client: canary-kit uses it (and duplicates it for pub/sub) but never quits it. */
  client?: Redis;
  /** Longest wait for the first connection before load/save fail (the Canary then serves its config). Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** A command that gets no reply in this time fails (a hung Redis). Default 2,000 ms. */
  commandTimeoutMs?: number;
  reconnect?: ReconnectOptions;
}

export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** Full jitter between half and all of the capped exponential delay: replicas don't reconnect in lockstep. */
export function backoffDelay(attempt: number, min: number, max: number, random = Math.random): number {
  const capped = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
  return Math.round(capped / 2 + (random() * capped) / 2);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of ms`);
  return value;
}

export interface ResolvedConnection {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

export function resolveConnection(where: string, options: ConnectionOptions): ResolvedConnection {
  if (options.client === undefined && (typeof options.url !== 'string' || options.url === '')) {
    throw new TypeError(`${where}: give \`url\` (redis://host:port) or \`client\` (an ioredis client)`);
  }
  const minDelayMs = positive(`${where}: reconnect.minDelayMs`, options.reconnect?.minDelayMs, 50);
  const maxDelayMs = positive(`${where}: reconnect.maxDelayMs`, options.reconnect?.maxDelayMs, 2_000);
  if (maxDelayMs < minDelayMs) throw new TypeError(`${where}: reconnect.maxDelayMs must be ≥ minDelayMs`);
  return {
    connectTimeoutMs: positive(`${where}: connectTimeoutMs`, options.connectTimeoutMs, 5_000),
    commandTimeoutMs: positive(`${where}: commandTimeoutMs`, options.commandTimeoutMs, 2_000),
    minDelayMs,
    maxDelayMs,
  };
}

/**
 * Client options for a connection canary-kit owns. No offline queue: while Redis is away a command fails at
 * once instead of piling up in memory, and a command in flight when the link drops is not replayed later
 * (`maxRetriesPerRequest: 0`): the resync after reconnecting is what catches up.
 */
export function ownedClientOptions(c: ResolvedConnection, forSubscriber: boolean): RedisOptions {
  return {
    lazyConnect: false,
    // A subscriber queues nothing but its own SUBSCRIBE: keep ioredis's queue for it so the subscription is
    // sent as soon as the link is up (and re-sent by autoResubscribe after every reconnect).
    enableOfflineQueue: forSubscriber,
    maxRetriesPerRequest: forSubscriber ? null : 0,
    connectTimeout: c.connectTimeoutMs,
    ...(!forSubscriber && { commandTimeout: c.commandTimeoutMs }),
    retryStrategy: (times: number) => backoffDelay(times, c.minDelayMs, c.maxDelayMs),
    enableReadyCheck: true,
  };
}

export function createOwnedClient(url: string, c: ResolvedConnection, forSubscriber = false): Redis {
  return new Redis(url, ownedClientOptions(c, forSubscriber));
}

/** A subscriber for `client`: its own connection (a subscribed connection can run nothing else). */
export function duplicateForSubscriber(client: Redis, c: ResolvedConnection): Redis {
  return client.duplicate(ownedClientOptions(c, true));
}

/**
 * Resolves once `client` is ready. Before the first connection it waits up to `timeoutMs`; after the link
 * was lost it fails at once — requests never wait on Redis, and nothing queues while it is away.
 */
export function whenReady(client: Redis, everReady: boolean, timeoutMs: number, what: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (everReady || client.status === 'end') {
    return Promise.reject(new RedisUnavailableError(`${what}: Redis is unreachable (${client.status})`));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new RedisUnavailableError(`${what}: no connection to Redis within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/**
 * Reports connection trouble without flooding: the first error after a healthy spell goes out at once, then
 * at most one per `intervalMs` carrying how many were held back.
 */
export class ErrorThrottle {
  readonly #intervalMs: number;
  readonly #emit: (error: Error) => void;
  #lastAt = Number.NEGATIVE_INFINITY;
  #held = 0;
  /** Errors reported and held back since start. */
  emitted = 0;
  suppressed = 0;

  constructor(intervalMs: number, emit: (error: Error) => void) {
    this.#intervalMs = intervalMs;
    this.#emit = emit;
  }

  report(error: Error): void {
    const now = Date.now();
    if (now - this.#lastAt < this.#intervalMs) {
      this.#held++;
      this.suppressed++;
      return;
    }
    const held = this.#held;
    this.#held = 0;
    this.#lastAt = now;
    this.emitted++;
    this.#emit(
      held > 0
        ? new Error(`${error.message} (${held} similar errors not reported)`, { cause: error })
        : error,
    );
  }

  /** A healthy link again: the next error is reported at once. */
  reset(): void {
    this.#lastAt = Number.NEGATIVE_INFINITY;
    this.#held = 0;
  }
}
