import type { NormalizedRecorder } from './config.js';
import { type BodyRules, type HeaderValue, redactBody } from './redact-body.js';
import { compileJsonPaths, looseName, REDACTED } from './redact-json.js';
import { redactUrl } from './redact-pairs.js';

export { REDACTED } from './redact-json.js';

export type HeaderInput = Readonly<Record<string, HeaderValue>>;
export type RecordedHeaders = Record<string, string | string[]>;

/** Inflated size allowed per body, as a multiple of the capture limit: JSON compresses about 5–20×. */
const DECODE_FACTOR = 32;
const MAX_DECODED_BYTES = 16 * 1024 * 1024;

function header(headers: HeaderInput, name: string): HeaderValue {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  // Node lower-cases names; a hand-built map may not.
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

/**
 * Everything the recorder redacts, compiled once from the config: the header names, the query parameter names,
 * the JSON field names and paths, and what to do with bodies it cannot read. Each method returns a new value and
 * never hands back a secret it was asked to hide; callers catch what they throw (a body of a pathological shape)
 * and drop the record.
 */
export class Redactor {
  readonly #headers: ReadonlySet<string>;
  readonly #query: ReadonlySet<string>;
  readonly #body: BodyRules;

  constructor(config: Pick<NormalizedRecorder, 'redact' | 'redactUnknownBodies' | 'maxBodyBytes'>) {
    const { redact } = config;
    this.#headers = new Set(redact.headers.map((h) => h.toLowerCase()));
    this.#query = new Set(redact.query.map(looseName));
    const names = new Set(redact.fields.map(looseName));
    this.#body = {
      names,
      paths: compileJsonPaths(redact.paths),
      // A form is a query string in a body: both lists apply.
      formNames: new Set([...names, ...this.#query]),
      redactUnknownBodies: config.redactUnknownBodies,
      maxDecodedBytes: Math.min(config.maxBodyBytes * DECODE_FACTOR, MAX_DECODED_BYTES),
    };
  }

  /** A copy with listed headers' values replaced (each value of a repeated header); undefined values dropped. */
  headers(headers: HeaderInput): RecordedHeaders {
    const out: RecordedHeaders = {};
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (value === undefined) continue;
      const secret = this.#headers.has(name.toLowerCase());
      if (typeof value === 'string') out[name] = secret ? REDACTED : value;
      else if (typeof value === 'number') out[name] = secret ? REDACTED : String(value);
      else out[name] = value.map((v) => (secret ? REDACTED : String(v)));
    }
    return out;
  }

  /** The URL with listed query parameters (and any userinfo) redacted. */
  url(url: string): string {
    return redactUrl(url, this.#query);
  }

  /** The body as it may be recorded, read per the exchange's own `content-type` and `content-encoding`. */
  body(body: Buffer, headers: HeaderInput): Buffer {
    return redactBody(body, header(headers, 'content-type'), header(headers, 'content-encoding'), this.#body);
  }
}
