import type {
  CanaryStore,
  RolloutState,
  SaveOptions,
  SaveResult,
  StoreContent,
  StoreDocument,
  StoreListener,
} from '@canary-kit/core';
import type { Redis } from 'ioredis';
import {
  type ConnectionOptions,
  createOwnedClient,
  duplicateForSubscriber,
  ErrorThrottle,
  RedisUnavailableError,
  type ResolvedConnection,
  resolveConnection,
  whenReady,
} from './connection.js';
import type { LeaseFencing } from './leader-lease.js';
import { RESTORE, SAVE } from './scripts.js';

export interface RedisStoreOptions extends ConnectionOptions {
  /** Prefix of the keys: the document is the hash `<key>:document`, changes go out on `<key>:changes`. Default `canary-kit`. */
  key?: string;
  /** How often every replica re-reads the document to catch changes it missed while disconnected. Default 30,000 ms. */
  resyncIntervalMs?: number;
  /** At most one `error` event per this interval while Redis stays away. Default 10,000 ms. */
  errorIntervalMs?: number;
  /** A leader lease: the controller's writes are then accepted only from the lease's current holder. */
  lease?: { readonly key: string; fencing(): LeaseFencing | undefined };
}

export class RedisStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisStoreError';
  }
}

export interface RedisStoreStats {
  /** Change messages received over pub/sub, and those that carried a newer document. */
  readonly messages: number;
  /** Resyncs run (periodic and on reconnect) and the newer documents they found. */
  readonly resyncs: number;
  readonly resyncChanges: number;
  /** Times this replica put its last known document back into an empty (restarted) or older Redis. */
  readonly restores: number;
  /** Leader writes Redis refused because this replica no longer held the lease. */
  readonly fencedWrites: number;
  /** Errors reported through `error`, and those held back by the rate limit. */
  readonly errorsReported: number;
  readonly errorsSuppressed: number;
}

type Reply = [number, number, string | null, string | null];

/**
 * Flags and rollout state for a fleet of replicas, in one Redis hash. Saves are compare-and-set in a Lua
 * script; a save publishes the new document and every replica's subscriber applies it at once; a periodic
 * resync (and one after every reconnect) catches what pub/sub missed. Redis is never on the request path:
 * while it is away, every replica serves its last good document, commands fail at once instead of queueing,
 * and trouble is reported through a rate-limited `error`.
 */
export class RedisStore implements CanaryStore {
  readonly kind = 'redis';
  readonly documentKey: string;
  readonly channel: string;
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #url: string | undefined;
  readonly #connection: ResolvedConnection;
  readonly #resyncIntervalMs: number;
  readonly #lease: RedisStoreOptions['lease'];
  readonly #listeners = new Set<StoreListener>();
  readonly #errors: ErrorThrottle;
  readonly #onClientError: (error: Error) => void;
  readonly #onClientReady: () => void;
  #subscriber: Redis | undefined;
  #everReady = false;
  /** The newest document this replica has seen: pushed to listeners once, put back if Redis loses it. */
  #last: StoreDocument | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #resyncing: Promise<void> | undefined;
  #closed = false;
  #stats = { messages: 0, resyncs: 0, resyncChanges: 0, restores: 0, fencedWrites: 0 };

  constructor(options: RedisStoreOptions) {
    if (!options || typeof options !== 'object')
      throw new TypeError('createRedisStore: options are required');
    this.#connection = resolveConnection('createRedisStore', options);
    const key = options.key ?? 'canary-kit';
    if (typeof key !== 'string' || key === '')
      throw new TypeError('createRedisStore: `key` must be a non-empty string');
    this.documentKey = `${key}:document`;
    this.channel = `${key}:changes`;
    this.#resyncIntervalMs = options.resyncIntervalMs ?? 30_000;
    if (!Number.isFinite(this.#resyncIntervalMs) || this.#resyncIntervalMs <= 0)
      throw new TypeError('createRedisStore: `resyncIntervalMs` must be a positive number of ms');
    this.#lease = options.lease;
    this.#errors = new ErrorThrottle(options.errorIntervalMs ?? 10_000, (error) => {
      for (const listener of this.#listeners) listener.error(error);
    });
    this.#ownsClient = options.client === undefined;
    this.#url = this.#ownsClient ? options.url : undefined;
    this.#client = options.client ?? createOwnedClient(options.url!, this.#connection);
    this.#onClientError = (error) => this.#report(error);
    this.#onClientReady = () => {
      this.#everReady = true;
      this.#errors.reset();
      // Back after an outage: what changed meanwhile (and was published to nobody) is read now.
      void this.resync();
    };
    this.#client.on('error', this.#onClientError);
    this.#client.on('ready', this.#onClientReady);
    if (this.#client.status === 'ready') this.#everReady = true;
  }

  get stats(): RedisStoreStats {
    return {
      ...this.#stats,
      errorsReported: this.#errors.emitted,
      errorsSuppressed: this.#errors.suppressed,
    };
  }

  /** The ioredis client the store reads and writes with (yours, when you passed one). */
  get client(): Redis {
    return this.#client;
  }

  #report(error: Error): void {
    if (this.#closed) return;
    this.#errors.report(
      error instanceof RedisStoreError || error instanceof RedisUnavailableError
        ? error
        : new RedisStoreError(`redis store ${this.documentKey}: ${error.message}`, { cause: error }),
    );
  }

  async #ready(): Promise<void> {
    if (this.#closed) throw new RedisStoreError(`redis store ${this.documentKey}: closed`);
    await whenReady(
      this.#client,
      this.#everReady,
      this.#connection.connectTimeoutMs,
      `redis store ${this.documentKey}`,
    );
    this.#everReady = true;
  }

  #parse(revision: number, flags: string | null, rollouts: string | null): StoreDocument | undefined {
    if (!(revision > 0)) return undefined;
    const parse = (field: string, text: string | null): Record<string, unknown> => {
      if (text === null) return {};
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new RedisStoreError(
          `redis store ${this.documentKey} field "${field}" (revision ${revision}): not valid JSON (${(error as Error).message}); keeping the last good config`,
        );
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new RedisStoreError(
          `redis store ${this.documentKey} field "${field}" (revision ${revision}): must be a JSON object; keeping the last good config`,
        );
      }
      return value as Record<string, unknown>;
    };
    return {
      revision,
      flags: parse('flags', flags),
      rollouts: parse('rollouts', rollouts) as Record<string, RolloutState>,
    };
  }

  /** Remembers the newest document seen; true when `document` is newer than the last one. */
  #remember(document: StoreDocument | undefined): boolean {
    if (document === undefined || (this.#last !== undefined && document.revision <= this.#last.revision))
      return false;
    this.#last = document;
    return true;
  }

  async #read(): Promise<StoreDocument | undefined> {
    await this.#ready();
    const [revision, flags, rollouts] = await this.#client.hmget(
      this.documentKey,
      'revision',
      'flags',
      'rollouts',
    );
    return this.#parse(Number(revision ?? 0), flags ?? null, rollouts ?? null);
  }

  async load(): Promise<StoreDocument | undefined> {
    const document = await this.#read();
    this.#remember(document);
    return document;
  }

  async save(content: StoreContent, expectedRevision: number, options?: SaveOptions): Promise<SaveResult> {
    const fenced = options?.leader === true && this.#lease !== undefined;
    const fencing = fenced ? this.#lease!.fencing() : undefined;
    await this.#ready();
    const flags = JSON.stringify(content.flags);
    const rollouts = JSON.stringify(content.rollouts);
    const [status, revision, currentFlags, currentRollouts] = (await this.#client.eval(
      SAVE,
      2,
      this.documentKey,
      // The lease key even when we don't hold it: the script then finds another holder (or none) and refuses.
      this.#lease?.key ?? this.documentKey,
      expectedRevision,
      flags,
      rollouts,
      this.channel,
      fenced ? '1' : '0',
      // Not the leader at all: an empty holder value never matches, so Redis refuses the write.
      fencing?.value ?? '',
      fencing?.token ?? 0,
    )) as Reply;
    if (status === 1) {
      this.#remember({ revision, flags: content.flags, rollouts: content.rollouts });
      return { ok: true, revision };
    }
    const current = this.#parse(revision, currentFlags, currentRollouts);
    this.#remember(current);
    if (status === -1) {
      this.#stats.fencedWrites++;
      return { ok: false, current, fenced: true };
    }
    return { ok: false, current };
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    if (!this.#subscriber && !this.#closed) this.#startSubscriber();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #startSubscriber(): void {
    const subscriber =
      this.#url !== undefined
        ? createOwnedClient(this.#url, this.#connection, true)
        : duplicateForSubscriber(this.#client, this.#connection);
    this.#subscriber = subscriber;
    subscriber.on('error', (error) => this.#report(error));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.#onMessage(message);
    });
    // Every (re)connect of the subscriber: messages published while it was away are gone, so read the document.
    subscriber.on('ready', () => void this.resync());
    subscriber.subscribe(this.channel).catch((error: Error) => this.#report(error));
    this.#resyncTimer = setInterval(() => void this.resync(), this.#resyncIntervalMs);
    this.#resyncTimer.unref();
  }

  #onMessage(message: string): void {
    this.#stats.messages++;
    const first = message.indexOf('\n');
    const second = message.indexOf('\n', first + 1);
    let document: StoreDocument | undefined;
    try {
      if (first === -1 || second === -1)
        throw new RedisStoreError(`redis store ${this.channel}: malformed message`);
      document = this.#parse(
        Number(message.slice(0, first)),
        message.slice(first + 1, second),
        message.slice(second + 1),
      );
    } catch (error) {
      // A message we can't read: the document in Redis is the truth, read that.
      this.#report(error as Error);
      void this.resync();
      return;
    }
    if (this.#remember(document)) this.#push(document!);
  }

  #push(document: StoreDocument): void {
    for (const listener of this.#listeners) {
      try {
        listener.change(document);
      } catch (error) {
        this.#report(error as Error);
      }
    }
  }

  /**
   * Reads the document and pushes it when newer than the last one seen. When Redis holds none, or an older one
   * (restarted without its data), puts the last known document back so the fleet carries on from it.
   * Never rejects: failures go to `error`.
   */
  resync(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#resyncing ??= this.#resync().finally(() => {
      this.#resyncing = undefined;
    });
    return this.#resyncing;
  }

  async #resync(): Promise<void> {
    this.#stats.resyncs++;
    try {
      const document = await this.#read();
      const last = this.#last;
      if (last !== undefined && (document === undefined || document.revision < last.revision)) {
        const restored = await this.#client.eval(
          RESTORE,
          1,
          this.documentKey,
          last.revision,
          JSON.stringify(last.flags),
          JSON.stringify(last.rollouts),
          this.channel,
        );
        if (restored === 1) this.#stats.restores++;
        return;
      }
      if (this.#remember(document)) {
        this.#stats.resyncChanges++;
        this.#push(document!);
      }
    } catch (error) {
      this.#report(error as Error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#resyncing;
    this.#closed = true;
    clearInterval(this.#resyncTimer);
    this.#listeners.clear();
    this.#client.off('error', this.#onClientError);
    this.#client.off('ready', this.#onClientReady);
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    // Keep an error listener on connections we drop: a late socket error must not become an unhandled one.
    if (subscriber) {
      subscriber.removeAllListeners('ready');
      subscriber.removeAllListeners('message');
      subscriber.disconnect();
    }
    if (this.#ownsClient) {
      this.#client.on('error', () => {});
      this.#client.disconnect();
    }
  }
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
