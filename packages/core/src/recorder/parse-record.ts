import { isPlainObject } from '../config/validate-helpers.js';
import type { ReadRecord, RecordedHeaderMap } from './format.js';

/**
 * Turns one parsed JSON line into a ReadRecord: a v1 record (it has `v`) or a hex-body line (`method`, `path`,
 * `headers`, `body_hex`, `timestamp`) as Python replay scripts write them. Strict about what a replay needs
 * (method, URL, headers, body), lenient about what it does not (a missing `status` is null).
 */

export type ParseResult = { readonly record: ReadRecord } | { readonly error: string };

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

class Invalid extends Error {}

function fail(field: string, rule: string): never {
  throw new Invalid(`${field}: ${rule}`);
}

function headerMap(value: unknown, field: string): RecordedHeaderMap {
  if (value === undefined || value === null) return {};
  const out: RecordedHeaderMap = {};
  const add = (name: unknown, v: unknown, where: string) => {
    if (typeof name !== 'string' || name === '') fail(where, 'header name must be a non-empty string');
    let text: string | string[];
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number' || typeof v === 'boolean') text = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) text = v as string[];
    else fail(where, 'must be a string or a list of strings');
    const previous = out[name];
    // A repeated name in a list of pairs (two Set-Cookie lines) keeps both values.
    out[name] =
      previous === undefined
        ? text
        : [...(Array.isArray(previous) ? previous : [previous]), ...[text].flat()];
  };
  if (Array.isArray(value)) {
    // Python's `list(headers.items())`: [[name, value], …].
    value.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) fail(`${field}[${i}]`, 'must be a [name, value] pair');
      add(pair[0], pair[1], `${field}[${i}]`);
    });
    return out;
  }
  if (!isPlainObject(value)) fail(field, 'must be an object of header values');
  for (const [name, v] of Object.entries(value)) add(name, v, `${field}.${name}`);
  return out;
}

function base64(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value))
    fail(field, 'must be base64');
  return value;
}

function method(value: unknown): string {
  if (typeof value !== 'string' || !METHOD.test(value)) fail('method', 'must be an HTTP method');
  return value.toUpperCase();
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') fail(field, 'must be a string');
  return value;
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') fail(field, 'must be a boolean');
  return value;
}

function optionalNumber(value: unknown, field: string, integer: boolean): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    fail(field, integer ? 'must be a whole number' : 'must be a number');
  return value;
}

function parseV1(obj: Record<string, unknown>, fallbackId: string): ReadRecord {
  if (obj.v !== 1) fail('v', `unsupported format version ${JSON.stringify(obj.v)} (this reader knows 1)`);
  if (typeof obj.url !== 'string' || obj.url === '') fail('url', 'must be a non-empty string');
  const responseHeaders =
    obj.response_headers === undefined || obj.response_headers === null
      ? null
      : headerMap(obj.response_headers, 'response_headers');
  return {
    format: 'v1',
    v: 1,
    id: optionalString(obj.id, 'id') ?? fallbackId,
    ts: optionalString(obj.ts, 'ts'),
    method: method(obj.method),
    url: obj.url,
    headers: headerMap(obj.headers, 'headers'),
    body: base64(obj.body, 'body'),
    body_truncated: optionalBoolean(obj.body_truncated, 'body_truncated'),
    version: optionalString(obj.version, 'version'),
    status: optionalNumber(obj.status, 'status', true),
    response_headers: responseHeaders,
    response_body:
      obj.response_body === undefined || obj.response_body === null
        ? null
        : base64(obj.response_body, 'response_body'),
    response_body_truncated: optionalBoolean(obj.response_body_truncated, 'response_body_truncated'),
    duration_ms: optionalNumber(obj.duration_ms, 'duration_ms', false),
  };
}

/** Epoch seconds, milliseconds, microseconds or nanoseconds (told apart by size), or a date string. */
function timestamp(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  let ms: number;
  const numeric =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)
        ? Number(value)
        : undefined;
  if (numeric !== undefined) {
    if (!Number.isFinite(numeric)) fail('timestamp', 'must be a date or an epoch time');
    ms =
      numeric >= 1e17
        ? numeric / 1e6
        : numeric >= 1e14
          ? numeric / 1e3
          : numeric >= 1e11
            ? numeric
            : numeric * 1000;
  } else if (typeof value === 'string') {
    ms = Date.parse(value);
  } else fail('timestamp', 'must be a date or an epoch time');
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) fail('timestamp', 'must be a date or an epoch time');
  return date.toISOString();
}

/** `path` may be a whole URL (`http://host/a?b`): the record keeps path and query, like a v1 `url`. */
function pathAndQuery(value: unknown): string {
  if (typeof value !== 'string' || value === '') fail('path', 'must be a non-empty string');
  if (value.startsWith('/')) return value;
  try {
    const url = new URL(value);
    return `${url.pathname}${url.search}`;
  } catch {
    fail('path', 'must start with / or be an absolute URL');
  }
}

function parseHex(obj: Record<string, unknown>, fallbackId: string): ReadRecord {
  const hex = obj.body_hex;
  if (hex !== undefined && hex !== null && (typeof hex !== 'string' || !HEX.test(hex)))
    fail('body_hex', 'must be hex digits, two per byte');
  return {
    format: 'hex',
    v: 1,
    id: typeof obj.id === 'string' && obj.id !== '' ? obj.id : fallbackId,
    ts: timestamp(obj.timestamp),
    method: method(obj.method),
    url: pathAndQuery(obj.path),
    headers: headerMap(obj.headers, 'headers'),
    body: typeof hex === 'string' ? Buffer.from(hex, 'hex').toString('base64') : '',
    body_truncated: false,
    version: null,
    status: null,
    response_headers: null,
    response_body: null,
    response_body_truncated: false,
    duration_ms: null,
  };
}

/** `fallbackId` names a record that has no `id` of its own (hex lines): `<file>:<line>`, stable across runs. */
export function parseRecord(value: unknown, fallbackId: string): ParseResult {
  if (!isPlainObject(value)) return { error: 'not a JSON object' };
  try {
    if ('v' in value) return { record: parseV1(value, fallbackId) };
    if ('body_hex' in value || ('path' in value && !('url' in value)))
      return { record: parseHex(value, fallbackId) };
    return { error: 'neither a v1 record (no "v") nor a hex-body record (no "path"/"body_hex")' };
  } catch (error) {
    if (error instanceof Invalid) return { error: error.message };
    throw error;
  }
}
