import type { CanaryStore, SaveResult, StoreContent, StoreDocument, StoreListener } from './store.js';

/**
 * The default store: one document in memory. Several Canary instances may share one (tests, or several
 * apps in one process); each save is pushed to the other subscribers on a microtask.
 */
export class MemoryStore implements CanaryStore {
  readonly kind = 'memory';
  #document: StoreDocument | undefined;
  readonly #listeners = new Set<StoreListener>();

  constructor(initial?: StoreContent) {
    if (initial) this.#document = { revision: 1, flags: initial.flags, rollouts: initial.rollouts };
  }

  async load(): Promise<StoreDocument | undefined> {
    return this.#document;
  }

  async save(content: StoreContent, expectedRevision: number): Promise<SaveResult> {
    const current = this.#document?.revision ?? 0;
    if (current !== expectedRevision) return { ok: false, current: this.#document };
    const document: StoreDocument = {
      revision: current + 1,
      flags: content.flags,
      rollouts: content.rollouts,
    };
    this.#document = document;
    for (const listener of this.#listeners) queueMicrotask(() => listener.change(document));
    return { ok: true, revision: document.revision };
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

export function createMemoryStore(initial?: StoreContent): MemoryStore {
  return new MemoryStore(initial);
}
