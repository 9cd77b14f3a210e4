import buffer from 'node:buffer';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/**
 * Undoes `Content-Encoding` so two bodies can be compared by content: the primary may answer gzip and
 * the candidate br for the same JSON. Every stage stops at `maxBytes` of output, so a zip bomb costs at most
 * that much memory and CPU, then reports `too-large`.
 *
 * Small inputs (the usual API response) decode synchronously, with the output capped at 256 KiB: a thread
 * pool round trip costs more than the work, and the cap bounds what the event loop can be made to do. Past
 * that cap, or for a larger input, decoding runs on the zlib thread pool with the full limit.
 */

export type DecodeFailure = 'too-large' | 'corrupt' | 'unsupported-encoding';

export type DecodeResult =
  | { readonly ok: true; readonly body: Buffer }
  | { readonly ok: false; readonly reason: DecodeFailure; readonly encoding: string };

export interface DecodeOptions {
  /** Most bytes any decoding stage may produce. Default 8 MiB. */
  readonly maxBytes?: number;
}

type Inflate = (input: Buffer, options: zlib.ZlibOptions | zlib.BrotliOptions) => Promise<Buffer>;
type InflateSync = (input: Buffer, options: zlib.ZlibOptions | zlib.BrotliOptions) => Buffer;
interface Decoder {
  readonly async: Inflate;
  readonly sync: InflateSync;
}

const decoder = (async: Parameters<typeof promisify>[0], sync: InflateSync): Decoder => ({
  async: promisify(async) as Inflate,
  sync,
});
const GUNZIP = decoder(zlib.gunzip, zlib.gunzipSync);
const INFLATE = decoder(zlib.inflate, zlib.inflateSync);
const INFLATE_RAW = decoder(zlib.inflateRaw, zlib.inflateRawSync);
const BROTLI = decoder(zlib.brotliDecompress, zlib.brotliDecompressSync);
/** zstd arrived in Node 22.15 / 23.8; on older Node a zstd body is `unsupported-encoding`. */
const zstdApi = zlib as unknown as {
  zstdDecompress?: Parameters<typeof promisify>[0];
  zstdDecompressSync?: InflateSync;
};
const ZSTD =
  zstdApi.zstdDecompress && zstdApi.zstdDecompressSync
    ? decoder(zstdApi.zstdDecompress, zstdApi.zstdDecompressSync)
    : undefined;

/** Inputs up to this size are decoded synchronously first... */
const SYNC_MAX_INPUT = 64 * 1024;
/** ...producing at most this much; anything bigger is redone on the thread pool. */
const SYNC_MAX_OUTPUT = 256 * 1024;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const MAX_BUFFER = buffer.constants.MAX_LENGTH;

/**
 * The codings of a `Content-Encoding` header, in the order they were applied (`gzip, br`: gzip first),
 * lower-cased, without `identity`. Several header lines count as one list.
 */
export function parseContentEncoding(header: string | readonly string[] | number | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : String(header);
  if (text === '' || text === 'identity') return [];
  const codings: string[] = [];
  for (const part of text.split(',')) {
    const coding = part.trim().toLowerCase();
    if (coding !== '' && coding !== 'identity') codings.push(coding);
  }
  return codings;
}

/**
 * Decodes `body` per its `Content-Encoding` (gzip, x-gzip, deflate in both its zlib and raw forms, br,
 * zstd where Node has it, identity, and stacks of them). Never rejects.
 */
export function decodeBody(
  body: Uint8Array,
  contentEncoding: string | readonly string[] | number | undefined,
  options: DecodeOptions = {},
): Promise<DecodeResult> {
  return decodeCodings(body, parseContentEncoding(contentEncoding), options.maxBytes ?? DEFAULT_MAX_BYTES);
}

/** `decodeBody` with the header already parsed. */
export async function decodeCodings(
  body: Uint8Array,
  codings: readonly string[],
  maxBytes: number,
): Promise<DecodeResult> {
  let data = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // zlib rejects a limit above the largest possible Buffer.
  const maxOutputLength = Math.min(maxBytes, MAX_BUFFER);
  // Undo the last coding applied first.
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    // An empty body (204, HEAD, a 304 with an encoding header) has nothing to decode.
    if (data.length === 0) break;
    const decoder = decoderFor(coding, data);
    if (decoder === undefined) return { ok: false, reason: 'unsupported-encoding', encoding: coding };
    let decoded: Buffer | undefined;
    try {
      if (data.length <= SYNC_MAX_INPUT) {
        try {
          decoded = decoder.sync(data, { maxOutputLength: Math.min(maxOutputLength, SYNC_MAX_OUTPUT) });
        } catch (error) {
          // Over the synchronous cap but maybe within the limit: decode again, off the event loop.
          if (!isTooLarge(error) || maxOutputLength <= SYNC_MAX_OUTPUT) throw error;
        }
      }
      data = decoded ?? (await decoder.async(data, { maxOutputLength }));
    } catch (error) {
      return { ok: false, reason: isTooLarge(error) ? 'too-large' : 'corrupt', encoding: coding };
    }
  }
  return { ok: true, body: data };
}

const isTooLarge = (error: unknown) => (error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';

function decoderFor(coding: string, data: Buffer): Decoder | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return GUNZIP;
    case 'deflate':
      // HTTP's "deflate" is the zlib format, but enough servers send raw deflate that both must work.
      return hasZlibHeader(data) ? INFLATE : INFLATE_RAW;
    case 'br':
      return BROTLI;
    case 'zstd':
      return ZSTD;
    default:
      return undefined;
  }
}

/** RFC 1950: compression method 8 in the low nibble, and the two header bytes a multiple of 31. */
function hasZlibHeader(data: Buffer): boolean {
  return data.length >= 2 && (data[0]! & 0x0f) === 8 && ((data[0]! << 8) | data[1]!) % 31 === 0;
}
