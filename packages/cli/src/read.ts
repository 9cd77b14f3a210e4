import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Reads recordings, one JSON object a line, in two formats:
 *
 * - canary-kit JSONL v1: `{ v: 1, id, ts, method, url, headers, body (base64), body_truncated, version, status,
 *   response_headers, response_body (base64), duration_ms }`;
 * - the hex format: `{ method, path, headers, body_hex, timestamp }` (no response).
 *
 * A stand-in with the signature of core's `readRecordings` (packages/core/src/recorder/read-recording.ts,
 * being written): when that lands, this module goes and the import in replay/run.ts points at core.
 * Blank lines are skipped; a line that is not a valid record yields `{ line, file, error }` and reading
 * goes on. A file that cannot be read yields one error with line 0 (as core's reader does).
 */

export type HeaderValues = Record<string, string | string[]>;

export interface RecordedResponse {
  readonly status: number;
  readonly headers: HeaderValues;
  readonly body: Buffer | undefined;
  readonly bodyTruncated: boolean;
  /** How long the recorded service took, when the recording says. */
  readonly durationMs: number | undefined;
}

export interface RecordedRequest {
  readonly format: 'v1' | 'hex';
  readonly id: string | undefined;
  /** When the request arrived, epoch milliseconds. */
  readonly ts: number | undefined;
  /** Upper case. */
  readonly method: string;
  /** Path and query, starting with `/`. */
  readonly url: string;
  readonly headers: HeaderValues;
  readonly body: Buffer | undefined;
  /** The request body was cut at the recorder's limit: it cannot be replayed faithfully. */
  readonly bodyTruncated: boolean;
  /** The version that served it (`stable`, `canary`), when recorded. */
  readonly version: string | undefined;
  /** The recorded answer (v1 lines with a status). */
  readonly response: RecordedResponse | undefined;
}

export type RecordingEntry =
  | { readonly line: number; readonly file: string; readonly record: RecordedRequest }
  | { readonly line: number; readonly file: string; readonly error: string };

export async function* readRecordings(paths: readonly string[]): AsyncIterable<RecordingEntry> {
  for (const file of paths) {
    const input = createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        if (text.trim() === '') continue;
        const parsed = parseLine(line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
        yield typeof parsed === 'string' ? { line, file, error: parsed } : { line, file, record: parsed };
      }
    } catch (error) {
      yield { line: 0, file, error: `cannot read: ${(error as Error).message}` };
    } finally {
      lines.close();
      input.destroy();
    }
  }
}

/** One line: the record, or why it is not one. */
export function parseLine(text: string): RecordedRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `malformed JSON: ${(error as Error).message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const o = value as Record<string, unknown>;
  if ('v' in o) return parseV1(o);
  if ('body_hex' in o || ('path' in o && !('url' in o))) return parseHex(o);
  return 'neither a v1 record (no "v") nor a hex-body record (no "path"/"body_hex")';
}

class Invalid extends Error {}

function parseV1(o: Record<string, unknown>): RecordedRequest | string {
  try {
    if (o.v !== 1) throw new Invalid(`v: unsupported version ${JSON.stringify(o.v)} (expected 1)`);
    const recordedStatus = o.status === undefined || o.status === null ? undefined : status(o.status);
    const responseHeaders = headers(o.response_headers, 'response_headers');
    const responseBody = base64(o.response_body, 'response_body');
    const bodyTruncated = bool(o.response_body_truncated, 'response_body_truncated');
    const durationMs = duration(o.duration_ms);
    // A status alone (recorded without `withResponse`) is not an answer to compare a body with.
    const response: RecordedResponse | undefined =
      recordedStatus !== undefined && responseBody !== undefined
        ? { status: recordedStatus, headers: responseHeaders, body: responseBody, bodyTruncated, durationMs }
        : undefined;
    return {
      format: 'v1',
      id: optionalString(o.id, 'id'),
      ts: timestamp(o.ts, 'ts'),
      method: method(o.method),
      url: url(o.url, 'url'),
      headers: headers(o.headers, 'headers'),
      body: base64(o.body, 'body'),
      bodyTruncated: bool(o.body_truncated, 'body_truncated'),
      version: optionalString(o.version, 'version'),
      response,
    };
  } catch (error) {
    if (error instanceof Invalid) return error.message;
    throw error;
  }
}

function parseHex(o: Record<string, unknown>): RecordedRequest | string {
  try {
    return {
      format: 'hex',
      id: optionalString(o.id, 'id'),
      ts: timestamp(o.timestamp, 'timestamp'),
      method: method(o.method),
      url: url(o.path, 'path'),
      headers: headers(o.headers, 'headers'),
      body: hex(o.body_hex),
      bodyTruncated: false,
      version: undefined,
      response: undefined,
    };
  } catch (error) {
    if (error instanceof Invalid) return error.message;
    throw error;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function method(value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw new Invalid('method: must be an HTTP method');
  return value.toUpperCase();
}

function url(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw new Invalid(`${field}: must be a path like /items?page=2`);
  if (value.startsWith('/')) {
    if (/[\s\p{Cc}]/u.test(value)) throw new Invalid(`${field}: contains spaces or control characters`);
    return value;
  }
  if (/^https?:\/\//i.test(value)) {
    try {
      const parsed = new URL(value);
      return parsed.pathname + parsed.search;
    } catch {
      // Falls through to the error below.
    }
  }
  throw new Invalid(`${field}: must be a path starting with / (got ${JSON.stringify(value.slice(0, 60))})`);
}

/** An object of header values, or a list of `[name, value]` pairs (Python's `list(headers.items())`). */
function headers(value: unknown, field: string): HeaderValues {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new Invalid(`${field}: must be an object of header values`);
  const out: HeaderValues = {};
  const add = (name: unknown, v: unknown, where: string) => {
    if (typeof name !== 'string' || !TOKEN.test(name))
      throw new Invalid(`${where}: ${JSON.stringify(name)} is not a header name`);
    let text: string | string[];
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number' || typeof v === 'boolean') text = String(v);
    else if (Array.isArray(v) && v.every((item) => typeof item === 'string')) text = v as string[];
    else throw new Invalid(`${where}: must be a string or an array of strings`);
    const key = name.toLowerCase();
    const previous = out[key];
    // A repeated name (two Set-Cookie pairs, or names differing in case) keeps every value.
    out[key] = previous === undefined ? text : [...[previous].flat(), ...[text].flat()];
  };
  if (Array.isArray(value)) {
    value.forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new Invalid(`${field}[${i}]: must be a [name, value] pair`);
      add(pair[0], pair[1], `${field}[${i}]`);
    });
    return out;
  }
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) add(name, v, `${field}.${name}`);
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

function base64(value: unknown, field: string): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !BASE64.test(value)) throw new Invalid(`${field}: must be base64`);
  return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
}

function hex(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value))
    throw new Invalid('body_hex: must be an even number of hex digits');
  return Buffer.from(value, 'hex');
}

function bool(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new Invalid(`${field}: must be true or false`);
  return value;
}

function status(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 999)
    throw new Invalid('status: must be an HTTP status code');
  return value;
}

function duration(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= 0 && value < Number.POSITIVE_INFINITY))
    throw new Invalid('duration_ms: must be a number >= 0');
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new Invalid(`${field}: must be a string`);
}

/**
 * Epoch milliseconds from a date string or an epoch number (or numeric string) in seconds, milliseconds,
 * microseconds or nanoseconds, told apart by magnitude as the recording format documents: below 10^11 is
 * seconds (10^11 ms is 1973, 10^11 s the year 5138), then ms below 10^14, µs below 10^17, else ns.
 */
function timestamp(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)
        ? Number(value)
        : undefined;
  if (n !== undefined && Number.isFinite(n) && n >= 0)
    return n < 1e11 ? n * 1000 : n < 1e14 ? n : n < 1e17 ? n / 1e3 : n / 1e6;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Invalid(`${field}: must be a date or an epoch time`);
}
