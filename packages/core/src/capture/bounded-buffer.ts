/**
 * Collects chunks up to a byte limit without copying until the end. Past the limit it stops keeping bytes
 * but keeps counting them, so a caller knows the total and that the capture is truncated.
 */
export class BoundedBuffer {
  readonly limit: number;
  #chunks: Buffer[] = [];
  #kept = 0;
  #total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  add(chunk: Buffer | string | Uint8Array, encoding?: BufferEncoding): void {
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk);
    this.#total += buffer.length;
    if (this.#kept >= this.limit) return;
    const room = this.limit - this.#kept;
    const kept = buffer.length <= room ? buffer : buffer.subarray(0, room);
    this.#chunks.push(kept);
    this.#kept += kept.length;
  }

  /** Bytes seen, kept or not. */
  get total(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#kept;
  }

  /** The kept bytes as one Buffer (copied once). */
  toBuffer(): Buffer {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    const buffer = Buffer.concat(this.#chunks, this.#kept);
    this.#chunks = [buffer];
    return buffer;
  }
}
