import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import {
  type ConnectionOptions,
  createOwnedClient,
  ErrorThrottle,
  type ResolvedConnection,
  resolveConnection,
  whenReady,
} from './connection.js';
import { ACQUIRE, RELEASE, RENEW } from './scripts.js';

export interface LeaderLeaseOptions extends ConnectionOptions {
  /** The lease key; the fencing counter lives at `<key>:token`. Default `canary-kit:leader`. */
  key?: string;
  /** How long a lease lives without renewal: the longest a dead leader blocks the next one. Default 10,000 ms. */
  ttlMs?: number;
  /** How often the leader renews (and a follower looks for a free lease). Default ttlMs / 3. */
  renewIntervalMs?: number;
  /**
   * `isLeader()` turns false this long before the lease could expire in Redis, even with Redis unreachable,
   * so an old leader has stopped before a new one can start (clock drift, a pause). Default ttlMs / 10.
   */
  safetyMarginMs?: number;
  /** This replica's name in the lease value. Default `<hostname>:<pid>:<random>`. */
  id?: string;
  /** At most one `error` event per this interval. Default 10,000 ms. */
  errorIntervalMs?: number;
}

/** What a fenced store needs to check a leader write inside Redis. */
export interface LeaseFencing {
  readonly key: string;
  /** The lease key's value while we hold it: `<id>:<token>`. */
  readonly value: string;
  readonly token: number;
}

export interface LeaderLeaseEvents {
  acquired: (token: number) => void;
  /** `expired` (not renewed in time), `taken` (Redis says someone else holds it), `closed`. */
  lost: (reason: 'expired' | 'taken' | 'closed') => void;
  error: (error: Error) => void;
}

type Listener = (...args: never[]) => void;

/**
 * One leader among the replicas: `SET NX PX` with renewal, and a fencing token from INCR on every acquisition.
 * Only the leader runs the rollout controller (`createCanary({ rollout: { isLeader: lease.isLeader } })`);
 * when it dies, the lease expires and another replica takes it within the TTL. Give the lease to the store
 * (`createRedisStore({ lease })`) and Redis itself refuses a controller write from a replica that no longer
 * holds it.
 */
export class LeaderLease {
  readonly id: string;
  readonly key: string;
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly safetyMarginMs: number;
  readonly #tokenKey: string;
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #connection: ResolvedConnection;
  readonly #listeners = new Map<keyof LeaderLeaseEvents, Set<Listener>>();
  readonly #errors: ErrorThrottle;
  readonly #onClientError: (error: Error) => void;
  readonly #onClientReady: () => void;
  #everReady = false;
  #value: string | undefined;
  #token: number | undefined;
  #validUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #firstAttempt: Promise<void>;
  #closed = false;
  /** Acquisitions, renewals and losses so far (for tests and metrics). */
  readonly counts = { acquired: 0, renewed: 0, lost: 0, failedAttempts: 0 };

  constructor(options: LeaderLeaseOptions) {
    if (!options || typeof options !== 'object')
      throw new TypeError('createLeaderLease: options are required');
    this.#connection = resolveConnection('createLeaderLease', options);
    this.key = options.key ?? 'canary-kit:leader';
    if (typeof this.key !== 'string' || this.key === '')
      throw new TypeError('createLeaderLease: `key` must be a non-empty string');
    this.#tokenKey = `${this.key}:token`;
    this.ttlMs = options.ttlMs ?? 10_000;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < 10)
      throw new TypeError('createLeaderLease: `ttlMs` must be a whole number of ms ≥ 10');
    this.renewIntervalMs = options.renewIntervalMs ?? Math.max(1, Math.floor(this.ttlMs / 3));
    this.safetyMarginMs = options.safetyMarginMs ?? Math.floor(this.ttlMs / 10);
    if (!(this.renewIntervalMs > 0) || this.renewIntervalMs + this.safetyMarginMs >= this.ttlMs) {
      throw new TypeError(
        'createLeaderLease: `renewIntervalMs` + `safetyMarginMs` must be below `ttlMs` (the lease would lapse between renewals)',
      );
    }
    if (!(this.safetyMarginMs >= 0)) throw new TypeError('createLeaderLease: `safetyMarginMs` must be ≥ 0');
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#errors = new ErrorThrottle(options.errorIntervalMs ?? 10_000, (error) =>
      this.#emit('error', error),
    );
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? createOwnedClient(options.url!, this.#connection);
    this.#onClientError = (error) =>
      this.#errors.report(new Error(`leader lease ${this.key}: ${error.message}`, { cause: error }));
    this.#onClientReady = () => {
      this.#everReady = true;
      this.#errors.reset();
    };
    this.#client.on('error', this.#onClientError);
    this.#client.on('ready', this.#onClientReady);
    if (this.#client.status === 'ready') this.#everReady = true;
    this.#firstAttempt = this.#run();
  }

  /** True while this replica holds the lease and it cannot have expired yet (checked against the local clock). */
  readonly isLeader = (): boolean => this.#token !== undefined && Date.now() < this.#validUntil;

  /** The fencing token of the current lease (grows with every acquisition across the fleet), or undefined. */
  get token(): number | undefined {
    return this.isLeader() ? this.#token : undefined;
  }

  /** What a fenced store checks inside Redis; undefined when this replica is not the leader. */
  fencing(): LeaseFencing | undefined {
    if (!this.isLeader() || this.#value === undefined || this.#token === undefined) return undefined;
    return { key: this.key, value: this.#value, token: this.#token };
  }

  /** Resolves after the first attempt to acquire (whatever its outcome). */
  ready(): Promise<void> {
    return this.#firstAttempt;
  }

  on<E extends keyof LeaderLeaseEvents>(event: E, listener: LeaderLeaseEvents[E]): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener);
    return this;
  }

  off<E extends keyof LeaderLeaseEvents>(event: E, listener: LeaderLeaseEvents[E]): this {
    this.#listeners.get(event)?.delete(listener as Listener);
    return this;
  }

  /** A throwing listener must not stop the lease's loop. */
  #emit<E extends keyof LeaderLeaseEvents>(event: E, ...args: Parameters<LeaderLeaseEvents[E]>): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as unknown as (...a: Parameters<LeaderLeaseEvents[E]>) => void)(...args);
      } catch (error) {
        if (event !== 'error') this.#emit('error', error as Error);
      }
    }
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#run();
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    if (this.#closed) return;
    let next = this.renewIntervalMs;
    try {
      await whenReady(
        this.#client,
        this.#everReady,
        this.#connection.connectTimeoutMs,
        `leader lease ${this.key}`,
      );
      this.#everReady = true;
      if (this.#value !== undefined && this.isLeader()) await this.#renew();
      else next = await this.#acquire();
    } catch (error) {
      this.counts.failedAttempts++;
      this.#errors.report(error as Error);
      // Unreachable: try again soon; leadership, if held, runs out by the clock on its own.
      next = Math.min(this.renewIntervalMs, 500);
    }
    this.#schedule(next);
  }

  /** Returns when to look again: right when the current holder's lease would expire, if that is sooner. */
  async #acquire(): Promise<number> {
    if (this.#value !== undefined) this.#lose('expired');
    const sentAt = Date.now();
    const [token, pttl] = (await this.#client.eval(
      ACQUIRE,
      2,
      this.key,
      this.#tokenKey,
      this.id,
      this.ttlMs,
    )) as [number, number];
    if (this.#closed) {
      if (token > 0) await this.#client.eval(RELEASE, 1, this.key, `${this.id}:${token}`).catch(() => {});
      return this.renewIntervalMs;
    }
    if (token > 0) {
      this.#token = token;
      this.#value = `${this.id}:${token}`;
      this.#extend(sentAt);
      this.counts.acquired++;
      this.#emit('acquired', token);
      return this.renewIntervalMs;
    }
    // Someone holds it: try again just after it would expire (a few ms of jitter spread the followers).
    return pttl > 0 ? Math.min(this.renewIntervalMs, pttl + 1 + Math.floor(Math.random() * 10)) : 1;
  }

  async #renew(): Promise<void> {
    const sentAt = Date.now();
    const renewed = await this.#client.eval(RENEW, 1, this.key, this.#value!, this.ttlMs);
    if (this.#closed || this.#value === undefined) return;
    if (renewed === 1) {
      this.#extend(sentAt);
      this.counts.renewed++;
    } else {
      this.#lose('taken');
    }
  }

  /** The lease is good until ttl after the command was sent (Redis started its clock later), minus the margin. */
  #extend(sentAt: number): void {
    this.#validUntil = sentAt + this.ttlMs - this.safetyMarginMs;
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(
      () => {
        if (this.#value !== undefined && !this.isLeader()) this.#lose('expired');
      },
      this.#validUntil - Date.now() + 1,
    );
    this.#expiry.unref();
  }

  #lose(reason: 'expired' | 'taken' | 'closed'): void {
    if (this.#value === undefined) return;
    this.#value = undefined;
    this.#token = undefined;
    this.#validUntil = 0;
    clearTimeout(this.#expiry);
    this.counts.lost++;
    this.#emit('lost', reason);
  }

  /** Stops renewing, releases the lease if still held (compare-and-delete) and closes the connection it made. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#expiry);
    await this.#firstAttempt;
    await this.#running;
    const value = this.#value;
    if (value !== undefined) {
      try {
        if (this.#client.status === 'ready') await this.#client.eval(RELEASE, 1, this.key, value);
      } catch {
        // Unreachable: the lease simply expires.
      }
      this.#lose('closed');
    }
    this.#client.off('error', this.#onClientError);
    this.#client.off('ready', this.#onClientReady);
    if (this.#ownsClient) {
      // Keep a listener until the socket is gone: a late connection error must not become an unhandled one.
      this.#client.on('error', () => {});
      this.#client.disconnect();
    }
  }
}

export function createLeaderLease(options: LeaderLeaseOptions): LeaderLease {
  return new LeaderLease(options);
}
