import { type FSWatcher, watch } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isPlainObject } from '../config/validate.js';
import type {
  CanaryStore,
  RolloutState,
  SaveResult,
  StoreContent,
  StoreDocument,
  StoreListener,
} from './store.js';

export interface FileStoreOptions {
  /** The JSON file: `{ "flags": { … }, "rollouts": { … } }`. Created on first save when missing. */
  path: string;
  /** Watch the file and push edits to the Canary. Default true. */
  watch?: boolean;
  /** Quiet time after the last change event before the file is re-read. Default 100 ms. */
  debounceMs?: number;
}

class FileStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileStoreError';
  }
}

/**
 * Flags and rollout state in one JSON file on local disk — for one process, or for a config that people
 * edit by hand and the app hot-reloads. Writes are atomic (temporary file + rename); an edit that does not
 * parse is reported through `error` and the Canary keeps its last good config. The compare-and-set holds
 * within one process only: a fleet uses the Redis store.
 */
export class FileStore implements CanaryStore {
  readonly kind = 'file';
  readonly path: string;
  readonly #watch: boolean;
  readonly #debounceMs: number;
  readonly #listeners = new Set<StoreListener>();
  #revision = 0;
  #lastText: string | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.path !== 'string' || options.path === '') {
      throw new TypeError('createFileStore: `path` must be a file path');
    }
    this.path = resolve(options.path);
    this.#watch = options.watch ?? true;
    this.#debounceMs = options.debounceMs ?? 100;
  }

  /** Parses the file's text; throws FileStoreError naming the file and what is wrong. */
  #parse(text: string): StoreDocument {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new FileStoreError(
        `${this.path}: not valid JSON (${(error as Error).message}); keeping the last good config`,
      );
    }
    if (!isPlainObject(json)) throw new FileStoreError(`${this.path}: must hold a JSON object with "flags"`);
    const { flags, rollouts, revision } = json;
    if (!isPlainObject(flags)) throw new FileStoreError(`${this.path}: "flags" must be an object`);
    if (rollouts !== undefined && !isPlainObject(rollouts))
      throw new FileStoreError(`${this.path}: "rollouts" must be an object`);
    if (revision !== undefined && !(Number.isSafeInteger(revision) && (revision as number) >= 0)) {
      throw new FileStoreError(`${this.path}: "revision" must be a whole number`);
    }
    // A hand edit carries no new revision: any new content moves the revision forward.
    if (text !== this.#lastText) {
      this.#revision = Math.max((revision as number | undefined) ?? 0, this.#revision + 1);
      this.#lastText = text;
    }
    return {
      revision: this.#revision,
      flags,
      rollouts: (rollouts ?? {}) as Record<string, RolloutState>,
    };
  }

  async #read(): Promise<StoreDocument | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new FileStoreError(
        `${this.path}: cannot read (${(error as Error).message}); keeping the last good config`,
        {
          cause: error,
        },
      );
    }
    return this.#parse(text);
  }

  async load(): Promise<StoreDocument | undefined> {
    const document = await this.#read();
    this.#startWatching();
    return document;
  }

  async save(content: StoreContent, expectedRevision: number): Promise<SaveResult> {
    let current: StoreDocument | undefined;
    try {
      current = await this.#read();
    } catch {
      current = undefined; // an unparseable file is replaced by a good document
    }
    const currentRevision = current?.revision ?? (this.#lastText === undefined ? 0 : this.#revision);
    if (currentRevision !== expectedRevision) return { ok: false, current };
    const revision = currentRevision + 1;
    const text = `${JSON.stringify({ revision, flags: content.flags, rollouts: content.rollouts }, null, 2)}\n`;
    const temporary = `${this.path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await writeFile(temporary, text, 'utf8');
      await rename(temporary, this.path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw new FileStoreError(`${this.path}: cannot write (${(error as Error).message})`, { cause: error });
    }
    this.#lastText = text;
    this.#revision = revision;
    this.#startWatching();
    return { ok: true, revision };
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Watches the directory, not the file: editors and our own writes replace the file by rename. */
  #startWatching(): void {
    if (!this.#watch || this.#watcher || this.#closed) return;
    const name = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename.toString() === name) this.#schedule();
      });
      this.#watcher.on('error', (error) =>
        this.#emitError(new FileStoreError(`${this.path}: watch failed`, { cause: error })),
      );
    } catch (error) {
      this.#emitError(
        new FileStoreError(`${this.path}: cannot watch (${(error as Error).message})`, { cause: error }),
      );
    }
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#reload();
    }, this.#debounceMs);
    this.#timer.unref();
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const before = this.#lastText;
    let document: StoreDocument | undefined;
    try {
      document = await this.#read();
    } catch (error) {
      this.#emitError(error as Error);
      return;
    }
    if (document === undefined) {
      if (before !== undefined) {
        this.#lastText = undefined;
        this.#emitError(new FileStoreError(`${this.path}: file was deleted; keeping the last good config`));
      }
      return;
    }
    if (this.#lastText === before) return; // our own write, or an event without a change
    for (const listener of this.#listeners) listener.change(document);
  }

  #emitError(error: Error): void {
    for (const listener of this.#listeners) listener.error(error);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#listeners.clear();
  }
}

export function createFileStore(options: FileStoreOptions): FileStore {
  return new FileStore(options);
}
