export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long an open circuit refuses before one probe is let through. Default 10 s. */
  cooldownMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Stops sending to a target that keeps failing, and probes it again later: closed → (N failures in a row) →
 * open → (cooldown) → half-open, where exactly one request goes through; its success closes the circuit, its
 * failure opens it for another cooldown. Synchronous and allocation-free; one per target.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  /** Times the circuit opened, for metrics and tests. */
  opened = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 5;
    this.#cooldownMs = options.cooldownMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#cooldownMs) return 'half-open';
    return this.#state;
  }

  /** Whether a request may go now. In half-open, only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.#probing) return false;
    this.#probing = true;
    this.#state = 'half-open';
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
    this.#state = 'closed';
  }

  failure(): void {
    this.#probing = false;
    if (this.#state === 'half-open') {
      this.#open();
      return;
    }
    if (++this.#failures >= this.#threshold && this.#state === 'closed') this.#open();
  }

  #open(): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#failures = 0;
    this.opened++;
  }
}
