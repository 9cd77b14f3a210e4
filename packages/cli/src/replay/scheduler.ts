import { setTimeout as sleep } from 'node:timers/promises';

/**
 * When each replayed request may go: at most `concurrency` in flight, at most `rate` started per second
 * (a token bucket), and with `speed`, no earlier than its recorded offset from the first request divided by
 * the speed factor (`speed: 2` replays twice as fast as recorded). All three apply together. The reader
 * waits here before it takes the next line, so memory stays bounded whatever the recording's size.
 */
export interface ScheduleOptions {
  readonly concurrency: number;
  /** Requests started per second; undefined for as fast as `concurrency` allows. */
  readonly rate?: number | undefined;
  /** Replay on the recorded timing, this many times faster; undefined to ignore timestamps. */
  readonly speed?: number | undefined;
  /** Clock in milliseconds, for tests. */
  readonly now?: () => number;
  /** Stops waiting: `acquire` then resolves false at once. */
  readonly signal?: AbortSignal | undefined;
}

export class Scheduler {
  readonly #concurrency: number;
  readonly #bucket: TokenBucket | undefined;
  readonly #speed: number | undefined;
  readonly #now: () => number;
  readonly #signal: AbortSignal | undefined;
  #inFlight = 0;
  #maxInFlight = 0;
  #waiter: (() => void) | undefined;
  #idle: (() => void) | undefined;
  /** The first timestamp seen and when it was replayed (speed mode). */
  #origin: { ts: number; at: number } | undefined;

  constructor(options: ScheduleOptions) {
    this.#concurrency = options.concurrency;
    this.#now = options.now ?? (() => performance.now());
    this.#signal = options.signal;
    this.#bucket =
      options.rate === undefined ? undefined : new TokenBucket(options.rate, this.#now, options.signal);
    this.#speed = options.speed;
    options.signal?.addEventListener('abort', () => this.#wake(), { once: true });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most requests that were ever in flight at once. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /**
   * Resolves true when a request recorded at `ts` (epoch ms, if known) may start, and counts it in flight:
   * call `release()` when it is done. Resolves false, counting nothing, once the signal aborts.
   * Sequential: the next `acquire` waits for this one to resolve.
   */
  async acquire(ts: number | undefined): Promise<boolean> {
    if (this.#inFlight >= this.#concurrency && !this.#signal?.aborted)
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    if (this.#speed !== undefined && ts !== undefined) {
      if (this.#origin === undefined) this.#origin = { ts, at: this.#now() };
      const due = this.#origin.at + (ts - this.#origin.ts) / this.#speed;
      const wait = due - this.#now();
      if (wait >= 1 && !(await pause(wait, this.#signal))) return false;
    }
    if (this.#bucket !== undefined && !(await this.#bucket.take())) return false;
    if (this.#signal?.aborted) return false;
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    return true;
  }

  release(): void {
    this.#inFlight--;
    this.#wake();
    if (this.#inFlight === 0 && this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter();
    }
  }

  /** Resolves when nothing is in flight. */
  drain(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }
}

/**
 * `rate` tokens a second. It holds at most 10 ms worth (at least one), so a rate is kept over any window
 * longer than that: timers fire late by a millisecond or so, and the tokens that accrue meanwhile let a
 * high rate be reached without a timer per request.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #signal: AbortSignal | undefined;
  #tokens = 1;
  #last: number;

  constructor(rate: number, now: () => number = () => performance.now(), signal?: AbortSignal) {
    this.#rate = rate;
    this.#capacity = Math.max(1, rate / 100);
    this.#now = now;
    this.#signal = signal;
    this.#last = now();
  }

  /** Takes a token, waiting for one if needed; false if the signal aborted the wait. */
  async take(): Promise<boolean> {
    this.#refill();
    while (this.#tokens < 1) {
      if (!(await pause(Math.max(1, ((1 - this.#tokens) / this.#rate) * 1000), this.#signal))) return false;
      this.#refill();
    }
    this.#tokens -= 1;
    return true;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}

/** Waits `ms`; false when the signal aborts first. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
    return true;
  } catch {
    return false;
  }
}
