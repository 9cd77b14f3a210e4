type Chunk = Buffer | string;

/**
 * Collects chunks up to a byte limit without copying until the bytes are asked for. Strings are kept as
 * strings (a response written as a 5 KB string is not encoded unless a shadow copy or a record needs it);
 * past the limit it keeps counting but stops keeping, so a caller knows the total and that it is truncated.
 */
export class BoundedBuffer {
  readonly limit: number;
  #chunks: Chunk[] = [];
  #encodings: (BufferEncoding | undefined)[] = [];
  #kept = 0;
  #total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  add(chunk: Buffer | string | Uint8Array, encoding?: BufferEncoding): void {
    const isString = typeof chunk === 'string';
    const size = isString ? Buffer.byteLength(chunk, encoding) : chunk.byteLength;
    this.#total += size;
    if (this.#kept >= this.limit) return;
    const room = this.limit - this.#kept;
    let kept: Chunk;
    if (size <= room)
      kept =
        isString || Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else {
      const bytes = isString
        ? Buffer.from(chunk, encoding)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      kept = bytes.subarray(0, room);
    }
    this.#chunks.push(kept);
    this.#encodings.push(isString ? encoding : undefined);
    this.#kept += Math.min(size, room);
  }

  /** Bytes seen, kept or not. */
  get total(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#kept;
  }

  /** The kept bytes as one Buffer (encoded and copied once, then cached). */
  toBuffer(): Buffer {
    const chunks = this.#chunks;
    if (chunks.length === 1 && Buffer.isBuffer(chunks[0])) return chunks[0];
    const buffers = chunks.map((c, i) => (typeof c === 'string' ? Buffer.from(c, this.#encodings[i]) : c));
    const buffer = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, this.#kept);
    this.#chunks = [buffer];
    this.#encodings = [undefined];
    return buffer;
  }
}
