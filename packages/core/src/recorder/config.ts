import type { ConfigIssue } from '../config/errors.js';
import { childPath } from '../config/path.js';
import {
  describe,
  isPlainObject,
  positiveInteger,
  stringList,
  unknownKeys,
} from '../config/validate-helpers.js';
import { parsePath } from '../diff/json-path.js';

type Issues = ConfigIssue[];

/** `recorder`: samples live requests into a size-rotated JSONL file for replay (see docs/recording-format.md). */
export interface RecorderConfig {
  /** The JSONL file written; rotated files are `<path>.1` (newest) … `<path>.<maxFiles - 1>`. */
  path: string;
  /** Share of eligible requests recorded, 0–1. Default 0.01: a recorder left on in production costs little. */
  sampleRate?: number;
  /** Path patterns recorded (`/api/*` one segment, `/api/**` any depth). Default: every path. */
  include?: readonly string[];
  /** Path patterns never recorded; beats `include`. Default none. */
  exclude?: readonly string[];
  /** Methods recorded. Default: every method. */
  methods?: readonly string[];
  /** Also record the response: status is always recorded; this adds its headers and body. Default false. */
  withResponse?: boolean;
  /** Bytes kept of each body (request, response). Default 64 KiB. */
  maxBodyBytes?: number;
  /** Rotate when the file would pass this size. Default 64 MiB. */
  maxFileBytes?: number;
  /** Files kept, the current one included. Default 5. */
  maxFiles?: number;
  /** Records waiting for the disk; past it, new ones are dropped and counted. Default 10,000. */
  maxQueueLines?: number;
  /** Bytes waiting for the disk; past it, new records are dropped and counted. Default 32 MiB. */
  maxQueueBytes?: number;
  /** Added to the default lists (see DEFAULT_REDACT); the defaults cannot be removed. */
  redact?: {
    /** Header names, case-insensitive, redacted in request and response headers. */
    headers?: readonly string[];
    /** Query parameter names. */
    query?: readonly string[];
    /** JSON body field names (any depth) or JSON paths starting with `$` (`$.card.number`, `$..pan`). */
    fields?: readonly string[];
  };
  /**
   * Bodies that are neither JSON nor a form (multipart, binary, text) are recorded as is by default; true
   * replaces them with the redaction marker.
   */
  redactUnknownBodies?: boolean;
}

export interface NormalizedRedact {
  /** Lower-case header names. */
  readonly headers: readonly string[];
  /** Query parameter names, as given (matched loosely: see `looseName`). */
  readonly query: readonly string[];
  /** Field names matched at any depth (loosely). */
  readonly fields: readonly string[];
  /** JSON paths, each valid for `parsePath`. */
  readonly paths: readonly string[];
}

export interface NormalizedRecorder {
  readonly path: string;
  readonly sampleRate: number;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** Upper-case methods; undefined records every method. */
  readonly methods: readonly string[] | undefined;
  readonly withResponse: boolean;
  readonly maxBodyBytes: number;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  readonly maxQueueLines: number;
  readonly maxQueueBytes: number;
  readonly redact: NormalizedRedact;
  readonly redactUnknownBodies: boolean;
}

/**
 * What is redacted even with no `redact` option. Headers: the credentials a client sends or a server sets.
 * Query and fields: the usual names of passwords, tokens, keys and card data. Names match loosely — case and
 * `_`/`-` ignored — so `access_token` also covers `accessToken` and `Access-Token`.
 */
export const DEFAULT_REDACT: {
  readonly headers: readonly string[];
  readonly query: readonly string[];
  readonly fields: readonly string[];
} = Object.freeze({
  headers: Object.freeze([
    'authorization',
    'cookie',
    'set-cookie',
    'proxy-authorization',
    'x-api-key',
    'x-auth-token',
    'x-access-token',
    'x-csrf-token',
    'x-xsrf-token',
    'x-amz-security-token',
  ]),
  query: Object.freeze([
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'api_key',
    'apikey',
    'password',
    'passwd',
    'secret',
    'client_secret',
    'signature',
    'sig',
    'auth',
    'jwt',
    'session_id',
    'x-amz-signature',
    'x-amz-credential',
    'x-amz-security-token',
  ]),
  fields: Object.freeze([
    'password',
    'passwd',
    'new_password',
    'old_password',
    'secret',
    'client_secret',
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'api_key',
    'apikey',
    'private_key',
    'authorization',
    'otp',
    'card_number',
    'cvv',
    'cvc',
  ]),
});

export const RECORDER_DEFAULTS = Object.freeze({
  sampleRate: 0.01,
  maxBodyBytes: 64 * 1024,
  maxFileBytes: 64 * 1024 * 1024,
  maxFiles: 5,
  maxQueueLines: 10_000,
  maxQueueBytes: 32 * 1024 * 1024,
});

/** A body larger than this cannot be useful in one JSONL line (base64 adds a third). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const METHOD = /^[A-Z]+$/;
/** RFC 9110 token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const RECORDER_KEYS = new Set([
  'path',
  'sampleRate',
  'include',
  'exclude',
  'methods',
  'withResponse',
  'maxBodyBytes',
  'maxFileBytes',
  'maxFiles',
  'maxQueueLines',
  'maxQueueBytes',
  'redact',
  'redactUnknownBodies',
]);
const REDACT_KEYS = new Set(['headers', 'query', 'fields']);

function pathPatterns(value: unknown, path: string, issues: Issues): string[] {
  if (value === undefined) return [];
  const patterns = stringList(value, path, issues);
  patterns.forEach((p, i) => {
    if (!p.startsWith('/')) issues.push({ path: childPath(path, i), message: 'must start with /' });
  });
  return patterns;
}

function booleanOption(value: unknown, path: string, issues: Issues): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    issues.push({ path, message: `must be a boolean, got ${describe(value)}` });
    return false;
  }
  return value;
}

function validateRedact(value: unknown, path: string, issues: Issues): NormalizedRedact {
  const input = value === undefined ? {} : value;
  if (!isPlainObject(input)) {
    issues.push({ path, message: `must be { headers?, query?, fields? }, got ${describe(value)}` });
    return {
      headers: DEFAULT_REDACT.headers,
      query: DEFAULT_REDACT.query,
      fields: DEFAULT_REDACT.fields,
      paths: [],
    };
  }
  unknownKeys(input, REDACT_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  const headers = input.headers === undefined ? [] : stringList(input.headers, at('headers'), issues);
  headers.forEach((h, i) => {
    if (!HEADER_NAME.test(h))
      issues.push({ path: childPath(at('headers'), i), message: 'must be a header name' });
  });
  const query = input.query === undefined ? [] : stringList(input.query, at('query'), issues);
  const fieldsOrPaths = input.fields === undefined ? [] : stringList(input.fields, at('fields'), issues);
  const fields: string[] = [];
  const paths: string[] = [];
  fieldsOrPaths.forEach((entry, i) => {
    if (!entry.startsWith('$')) {
      fields.push(entry);
      return;
    }
    const parsed = parsePath(entry);
    const where = childPath(at('fields'), i);
    if (!parsed.ok) issues.push({ path: where, message: `invalid JSON path: ${parsed.message}` });
    // A keyed selector needs an array key configured elsewhere (the differ has one); here it would never match.
    else if (parsed.segments.some((s) => s.kind === 'keyed'))
      issues.push({
        path: where,
        message: 'keyed selectors ([field=value]) are not supported in redaction paths',
      });
    else paths.push(entry);
  });
  return {
    headers: unique([...DEFAULT_REDACT.headers, ...headers.map((h) => h.toLowerCase())]),
    query: unique([...DEFAULT_REDACT.query, ...query]),
    fields: unique([...DEFAULT_REDACT.fields, ...fields]),
    paths: unique(paths),
  };
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/**
 * `recorder`: an object with a `path`, or undefined/false for no recorder. Issues are reported under
 * `recorder.*`; returns undefined when there is no recorder or the config is invalid.
 */
export function validateRecorder(
  value: unknown,
  issues: Issues,
  path = 'recorder',
): NormalizedRecorder | undefined {
  if (value === undefined || value === false) return undefined;
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object { path, … } or false, got ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  unknownKeys(value, RECORDER_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  if (typeof value.path !== 'string' || value.path.trim() === '' || value.path.includes('\0')) {
    issues.push({ path: at('path'), message: `must be a file path, got ${describe(value.path)}` });
  }
  let sampleRate: number = RECORDER_DEFAULTS.sampleRate;
  if (value.sampleRate !== undefined) {
    const rate = value.sampleRate;
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      issues.push({
        path: at('sampleRate'),
        message: `must be a number between 0 and 1, got ${describe(rate)}`,
      });
    } else sampleRate = rate + 0; // + 0 turns -0 into 0
  }
  const include = pathPatterns(value.include, at('include'), issues);
  const exclude = pathPatterns(value.exclude, at('exclude'), issues);
  let methods: string[] | undefined;
  if (value.methods !== undefined) {
    methods = stringList(value.methods, at('methods'), issues, { nonEmpty: true }).map((m) =>
      m.toUpperCase(),
    );
    methods.forEach((m, i) => {
      if (!METHOD.test(m))
        issues.push({ path: childPath(at('methods'), i), message: 'must be an HTTP method' });
    });
  }
  const withResponse = booleanOption(value.withResponse, at('withResponse'), issues);
  const redactUnknownBodies = booleanOption(value.redactUnknownBodies, at('redactUnknownBodies'), issues);
  const maxBodyBytes = positiveInteger(
    value.maxBodyBytes,
    RECORDER_DEFAULTS.maxBodyBytes,
    at('maxBodyBytes'),
    issues,
    MAX_BODY_BYTES,
  );
  const maxFileBytes = positiveInteger(
    value.maxFileBytes,
    RECORDER_DEFAULTS.maxFileBytes,
    at('maxFileBytes'),
    issues,
  );
  const maxFiles = positiveInteger(value.maxFiles, RECORDER_DEFAULTS.maxFiles, at('maxFiles'), issues, 1000);
  const maxQueueLines = positiveInteger(
    value.maxQueueLines,
    RECORDER_DEFAULTS.maxQueueLines,
    at('maxQueueLines'),
    issues,
    10_000_000,
  );
  const maxQueueBytes = positiveInteger(
    value.maxQueueBytes,
    RECORDER_DEFAULTS.maxQueueBytes,
    at('maxQueueBytes'),
    issues,
  );
  // One record carries up to two bodies in base64 (4/3 of their size): a queue smaller than that drops them all.
  if (maxQueueBytes < 3 * maxBodyBytes)
    issues.push({
      path: at('maxQueueBytes'),
      message: `must be at least 3 × maxBodyBytes (${3 * maxBodyBytes}) so that one record fits`,
    });
  const redact = validateRedact(value.redact, at('redact'), issues);
  if (issues.length > before) return undefined;
  return {
    path: value.path as string,
    sampleRate,
    include,
    exclude,
    methods: methods ? unique(methods) : undefined,
    withResponse,
    maxBodyBytes,
    maxFileBytes,
    maxFiles,
    maxQueueLines,
    maxQueueBytes,
    redact,
    redactUnknownBodies,
  };
}
