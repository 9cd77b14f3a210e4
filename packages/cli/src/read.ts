import { parseRecord, type ReadRecord, readRecordings as readCoreRecordings } from '@canary-kit/core';

/**
 * The replay's view of a recording. Reading and parsing are core's (`readRecordings`, `parseRecord`: JSONL v1
 * and hex-body lines, see docs/recording-format.md); this module only maps core's records — the raw v1 shape,
 * base64 bodies, an ISO `ts`, `status: null` without a response — to what the replay sends and compares, and
 * rejects the few records that parse but cannot be replayed (a URL that is not a path, an unknown date, a
 * header name that cannot be sent). A rejected record is reported like a malformed line: `{ line, file, error }`.
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

/** Core's reader, each record mapped for the replay. A file that cannot be read yields one error, line 0. */
export async function* readRecordings(paths: readonly string[]): AsyncIterable<RecordingEntry> {
  for await (const entry of readCoreRecordings(paths)) {
    if ('error' in entry) {
      yield { line: entry.line, file: entry.file, error: entry.error };
      continue;
    }
    const mapped = toRequest(entry.record);
    yield typeof mapped === 'string'
      ? { line: entry.line, file: entry.file, error: mapped }
      : { line: entry.line, file: entry.file, record: mapped };
  }
}

/** One line: the record, or why it is not one (core's parser, then `toRequest`). */
export function parseLine(text: string): RecordedRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `malformed JSON: ${(error as Error).message}`;
  }
  const result = parseRecord(value, '');
  return 'error' in result ? result.error : toRequest(result.record);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Core's record as the replay uses it, or why it cannot be replayed. */
export function toRequest(record: ReadRecord): RecordedRequest | string {
  const url = pathOf(record.url);
  if (url === undefined) return `url: must be a path like /items?page=2`;
  if (/[\s\p{Cc}]/u.test(url)) return 'url: contains spaces or control characters';
  let ts: number | undefined;
  if (record.ts !== null) {
    ts = Date.parse(record.ts);
    if (Number.isNaN(ts)) return `ts: must be a date or an epoch time`;
  }
  const headers = lowerCased(record.headers, 'headers');
  if (typeof headers === 'string') return headers;
  let response: RecordedResponse | undefined;
  // A status alone (recorded without `withResponse`) is not an answer to compare a body with.
  if (record.status !== null && record.response_body !== null) {
    if (record.status < 100 || record.status > 999) return 'status: must be an HTTP status code';
    const responseHeaders = lowerCased(record.response_headers ?? {}, 'response_headers');
    if (typeof responseHeaders === 'string') return responseHeaders;
    response = {
      status: record.status,
      headers: responseHeaders,
      body: Buffer.from(record.response_body, 'base64'),
      bodyTruncated: record.response_body_truncated,
      // A negative duration (a clock step on the recording host) says nothing: treated as unknown.
      durationMs: record.duration_ms !== null && record.duration_ms >= 0 ? record.duration_ms : undefined,
    };
  }
  return {
    format: record.format,
    id: record.id === '' ? undefined : record.id,
    ts,
    method: record.method,
    url,
    headers,
    body: record.body === '' ? undefined : Buffer.from(record.body, 'base64'),
    bodyTruncated: record.body_truncated,
    version: record.version ?? undefined,
    response,
  };
}

/** `/path?query` as is; an absolute http(s) URL's path and query; anything else undefined. */
function pathOf(url: string): string | undefined {
  if (url.startsWith('/')) return url;
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return undefined;
  }
}

/** Lower-cased names (a name repeated in another case keeps every value); a name that cannot be sent fails. */
function lowerCased(headers: HeaderValues, field: string): HeaderValues | string {
  const out: HeaderValues = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) return `${field}.${name}: ${JSON.stringify(name)} is not a header name`;
    const key = name.toLowerCase();
    const previous = out[key];
    out[key] = previous === undefined ? value : [...[previous].flat(), ...[value].flat()];
  }
  return out;
}
