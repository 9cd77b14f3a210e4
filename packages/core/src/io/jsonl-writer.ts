import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface JsonlWriterOptions {
  /** The file written to; rotated files are `path.1` (newest) … `path.<maxFiles - 1>`. */
  path: string;
  /** Rotate when the file would pass this size. Default 64 MiB. */
  maxFileBytes?: number;
  /** Files kept, the current one included. Default 5. */
  maxFiles?: number;
  /** Lines waiting for the disk; past it, new lines are dropped and counted. Default 10,000. */
  maxQueueLines?: number;
  /** Bytes waiting for the disk; past it, new lines are dropped and counted. Default 32 MiB. */
  maxQueueBytes?: number;
  /** After a write error, lines are refused (and counted as errors) for this long. Default 1 s. */
  retryAfterMs?: number;
  /** Told about every write error (the writer itself never throws). */
  onError?: (error: Error) => void;
}

export interface JsonlCounts {
  written: number;
  dropped: number;
  error: number;
}

/**
 * Appends JSON lines to a size-rotated file from a bounded in-memory queue, off the request path. `write`
 * never blocks and never throws: a full queue drops the line, a failing disk (EACCES, ENOSPC, …) errors the
 * lines it could not write — both counted — and the writer tries again after `retryAfterMs`.
 */
export class JsonlWriter {
  readonly path: string;
  readonly counts: JsonlCounts = { written: 0, dropped: 0, error: 0 };
  readonly #maxFileBytes: number;
  readonly #maxFiles: number;
  readonly #maxQueueLines: number;
  readonly #maxQueueBytes: number;
  readonly #retryAfterMs: number;
  readonly #onError: ((error: Error) => void) | undefined;
  #queue: string[] = [];
  #queueBytes = 0;
  #file: FileHandle | undefined;
  #size = 0;
  #draining: Promise<void> | undefined;
  #brokenUntil = 0;
  #closed = false;

  constructor(options: JsonlWriterOptions) {
    this.path = options.path;
    this.#maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    this.#maxFiles = Math.max(1, options.maxFiles ?? 5);
    this.#maxQueueLines = options.maxQueueLines ?? 10_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 32 * 1024 * 1024;
    this.#retryAfterMs = options.retryAfterMs ?? 1_000;
    this.#onError = options.onError;
  }

  /** Lines waiting for the disk. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues one record; false when it was dropped (full queue, closed, or the disk failing). */
  write(record: unknown): boolean {
    if (this.#closed) {
      this.counts.dropped++;
      return false;
    }
    if (Date.now() < this.#brokenUntil) {
      this.counts.error++;
      return false;
    }
    let line: string;
    try {
      line = `${JSON.stringify(record)}\n`;
    } catch {
      this.counts.error++;
      return false;
    }
    if (this.#queue.length >= this.#maxQueueLines || this.#queueBytes + line.length > this.#maxQueueBytes) {
      this.counts.dropped++;
      return false;
    }
    this.#queue.push(line);
    this.#queueBytes += line.length;
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return true;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      this.#queueBytes = 0;
      try {
        await this.#writeBatch(batch);
      } catch (error) {
        this.counts.error += batch.length;
        this.#brokenUntil = Date.now() + this.#retryAfterMs;
        await this.#file?.close().catch(() => {});
        this.#file = undefined;
        // Lines queued while this batch failed cannot be written either; count them now.
        this.counts.error += this.#queue.length;
        this.#queue = [];
        this.#queueBytes = 0;
        this.#onError?.(error as Error);
      }
    }
  }

  async #writeBatch(lines: string[]): Promise<void> {
    let start = 0;
    while (start < lines.length) {
      if (!this.#file) await this.#openFile();
      // Write as many lines as fit in the current file; rotate when the next one would not.
      let end = start;
      let bytes = 0;
      while (end < lines.length) {
        const size = Buffer.byteLength(lines[end]!);
        if (this.#size + bytes + size > this.#maxFileBytes && (this.#size > 0 || bytes > 0)) break;
        bytes += size;
        end++;
      }
      if (end === start) {
        await this.#rotate();
        continue;
      }
      await this.#file!.write(lines.slice(start, end).join(''));
      this.#size += bytes;
      this.counts.written += end - start;
      start = end;
      if (start < lines.length) await this.#rotate();
    }
  }

  async #openFile(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.#file = await open(this.path, 'a');
    this.#size = (await stat(this.path)).size;
  }

  async #rotate(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
    if (this.#maxFiles === 1) await rm(this.path, { force: true });
    else {
      await rm(`${this.path}.${this.#maxFiles - 1}`, { force: true });
      for (let i = this.#maxFiles - 2; i >= 1; i--) {
        await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => {});
      }
      await rename(this.path, `${this.path}.1`).catch(() => {});
    }
    await this.#openFile();
  }

  /** Resolves when every line queued so far is written (or counted as an error). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Flushes, then closes the file; later writes are dropped and counted. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#file?.close().catch(() => {});
    this.#file = undefined;
  }
}
