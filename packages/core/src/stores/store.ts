/**
 * Where flags and rollout state live. The Canary keeps the last good document in memory and serves every
 * decision from it, so a store is never on the request path: a slow or dead store only delays changes.
 *
 * Revisions order every document. An empty store is at revision 0; a successful `save` with
 * `expectedRevision: n` writes revision n + 1. A save whose expected revision is not current fails and
 * returns the current document (compare-and-set), so two writers never clobber each other.
 */

export type RolloutPhase = 'idle' | 'progressing' | 'paused' | 'complete' | 'rolled-back';

/** A flag's rollout, written by the rollout controller. Only `phase` matters to evaluation. */
export interface RolloutState {
  readonly flag: string;
  readonly canaryVersionId: string | null;
  readonly phase: RolloutPhase;
  readonly stepIndex: number;
  readonly stepStartedAt: number;
  readonly failures: number;
  readonly lastAnalysis?: unknown;
}

/** What a store holds, minus the revision. `flags` is unvalidated input: the Canary validates on apply. */
export interface StoreContent {
  readonly flags: Readonly<Record<string, unknown>>;
  readonly rollouts: Readonly<Record<string, RolloutState>>;
}

export interface StoreDocument extends StoreContent {
  readonly revision: number;
}

export type SaveResult =
  | { readonly ok: true; readonly revision: number }
  | {
      readonly ok: false;
      readonly current: StoreDocument | undefined;
      /** A fenced store refused a leader write: this process no longer holds the leader lease. */
      readonly fenced?: boolean;
    };

/** Why a save is made. Stores without fencing ignore it. */
export interface SaveOptions {
  /**
   * True for a transition the rollout controller makes because this process is the leader (a step, a failure
   * count, an automatic rollback). A fenced store (Redis with a leader lease) rejects it once the lease is
   * lost, so a stale leader never writes; a person's change (percentage, rollback, promote) is never fenced.
   */
  readonly leader?: boolean;
}

export interface StoreListener {
  /** A newer document, written by another process or edited by hand. */
  change(document: StoreDocument): void;
  /** The store could not read or reach its backing: the Canary keeps serving its last good document. */
  error(error: Error): void;
}

export interface CanaryStore {
  /** For messages and metrics: `memory`, `file`, `redis`. */
  readonly kind: string;
  /** The current document, or undefined when the store is empty. Rejects when the backing is unreadable. */
  load(): Promise<StoreDocument | undefined>;
  /** Compare-and-set: writes only when the store is at `expectedRevision` (0 = empty). */
  save(content: StoreContent, expectedRevision: number, options?: SaveOptions): Promise<SaveResult>;
  /** Pushes newer documents and errors to the listener; returns the unsubscribe function. */
  subscribe(listener: StoreListener): () => void;
  close(): Promise<void>;
}
