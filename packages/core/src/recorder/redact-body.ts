import zlib from 'node:zlib';
import { parseContentEncoding } from '../diff/decode-body.js';
import { type JsonRules, REDACTED, redactJson } from './redact-json.js';
import { redactPairs } from './redact-pairs.js';

export type HeaderValue = string | readonly string[] | number | undefined;

export interface BodyRules extends JsonRules {
  /** Loose names redacted in `application/x-www-form-urlencoded` bodies. */
  readonly formNames: ReadonlySet<string>;
  /** Replace bodies that are neither JSON nor a form with the marker. */
  readonly redactUnknownBodies: boolean;
  /** Most bytes a compressed body may inflate to before it counts as unreadable (and is replaced). */
  readonly maxDecodedBytes: number;
}

export const REDACTED_BODY: Buffer = Buffer.from(REDACTED);

type BodyKind = 'json' | 'ndjson' | 'form' | 'other';

const NDJSON = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
]);

function first(value: HeaderValue): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return value[0] ?? '';
}

/** `application/json; charset=utf-8` → `json`; `application/problem+json` too. */
export function bodyKind(contentType: HeaderValue): BodyKind {
  const text = first(contentType);
  const semicolon = text.indexOf(';');
  const type = (semicolon === -1 ? text : text.slice(0, semicolon)).trim().toLowerCase();
  if (type === 'application/json' || type === 'text/json' || type.endsWith('+json')) return 'json';
  if (NDJSON.has(type)) return 'ndjson';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return 'other';
}

/** The first byte past whitespace and a UTF-8 BOM is `{` or `[`: JSON sent without (or with a wrong) type. */
function looksLikeJson(body: Buffer): boolean {
  let i = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
    else return c === 0x7b || c === 0x5b;
  }
  return false;
}

interface Codec {
  decode(input: Buffer, maxOutputLength: number): Buffer;
  encode(input: Buffer): Buffer;
}

const GZIP: Codec = {
  decode: (input, maxOutputLength) => zlib.gunzipSync(input, { maxOutputLength }),
  encode: (input) => zlib.gzipSync(input),
};
const CODECS: Readonly<Record<string, Codec>> = {
  gzip: GZIP,
  'x-gzip': GZIP,
  deflate: {
    // HTTP's "deflate" is the zlib format, but enough servers send it raw that both must be read.
    decode: (input, maxOutputLength) => {
      try {
        return zlib.inflateSync(input, { maxOutputLength });
      } catch {
        return zlib.inflateRawSync(input, { maxOutputLength });
      }
    },
    encode: (input) => zlib.deflateSync(input),
  },
  br: {
    decode: (input, maxOutputLength) => zlib.brotliDecompressSync(input, { maxOutputLength }),
    // Quality 11 (the default) costs tens of milliseconds per 100 KB on the event loop; 4 costs little.
    encode: (input) =>
      zlib.brotliCompressSync(input, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
  },
};

/** Redacts plain bytes of a known kind; undefined when they cannot be read as that kind (never kept then). */
function redactPlain(
  kind: BodyKind,
  plain: Buffer,
  rules: BodyRules,
): { bytes: Buffer; changed: boolean } | undefined {
  if (kind === 'form') {
    // latin1 maps each byte to one char and back: everything not redacted stays byte-for-byte.
    const text = plain.toString('latin1');
    const redacted = redactPairs(text, rules.formNames);
    return redacted === text
      ? { bytes: plain, changed: false }
      : { bytes: Buffer.from(redacted, 'latin1'), changed: true };
  }
  let text = plain.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (kind === 'ndjson') {
    let changed = false;
    const lines = text.split('\n').map((line) => {
      if (line.trim() === '') return line;
      const result = redactJson(JSON.parse(line), rules);
      if (!result.changed) return line;
      changed = true;
      return JSON.stringify(result.value);
    });
    return changed ? { bytes: Buffer.from(lines.join('\n')), changed } : { bytes: plain, changed };
  }
  const result = redactJson(JSON.parse(text), rules);
  // Only a changed body is re-serialized: an untouched one keeps its exact bytes (spacing, number spelling).
  return result.changed
    ? { bytes: Buffer.from(JSON.stringify(result.value)), changed: true }
    : { bytes: plain, changed: false };
}

function tryRedactPlain(kind: BodyKind, plain: Buffer, rules: BodyRules) {
  try {
    return redactPlain(kind, plain, rules);
  } catch {
    // Not JSON after all, cut off at the capture limit, or too deep for JSON.stringify: not shown.
    return undefined;
  }
}

/**
 * A body as it may be recorded. JSON (declared, or sniffed from a leading `{`/`[`) has listed fields and paths
 * replaced; a form has listed fields replaced; a JSON or form body that cannot be read — truncated, malformed,
 * compressed with an unknown coding — becomes the marker as a whole, because what cannot be inspected cannot be
 * shown to be clean. Other bodies are kept as they are unless `redactUnknownBodies`. Unchanged bodies keep
 * their exact bytes; a changed compressed body is compressed again so it still matches its headers.
 */
export function redactBody(
  body: Buffer,
  contentType: HeaderValue,
  contentEncoding: HeaderValue,
  rules: BodyRules,
): Buffer {
  if (body.length === 0) return body;
  const codings = parseContentEncoding(
    typeof contentEncoding === 'number' ? String(contentEncoding) : contentEncoding,
  );
  let kind = bodyKind(contentType);
  if (kind === 'other') {
    if (rules.redactUnknownBodies) return REDACTED_BODY;
    // Compressed bytes of an unknown type are kept as they are (documented): they are not sniffed.
    if (codings.length > 0 || !looksLikeJson(body)) return body;
    kind = 'json';
  }
  if (codings.length === 0) {
    const result = tryRedactPlain(kind, body, rules);
    return result === undefined ? REDACTED_BODY : result.bytes;
  }
  const codec = codings.length === 1 ? CODECS[codings[0]!] : undefined;
  let plain: Buffer | undefined;
  if (codec !== undefined) {
    try {
      plain = codec.decode(body, rules.maxDecodedBytes);
    } catch {
      plain = undefined;
    }
  }
  if (plain === undefined) {
    // The capture may already hold the uncompressed bytes (a compression middleware wrapping the response after
    // canary-kit did); JSON parsing proves it. A form cannot be proven plain that way: never kept.
    if (kind === 'form') return REDACTED_BODY;
    const result = tryRedactPlain(kind, body, rules);
    return result === undefined ? REDACTED_BODY : result.bytes;
  }
  const result = tryRedactPlain(kind, plain, rules);
  if (result === undefined) return REDACTED_BODY;
  if (!result.changed) return body;
  try {
    return codec!.encode(result.bytes);
  } catch {
    return REDACTED_BODY;
  }
}
