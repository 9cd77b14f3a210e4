import { type Difference, describeByteDifference, diffValues } from './compare-values.js';
import { type DecodeResult, decodeCodings, parseContentEncoding } from './decode-body.js';
import { type CompiledDiffOptions, compileDiffOptions, type ResponseDiffOptions } from './options.js';
import { previewValue } from './preview.js';

export type { ResponseDiffOptions } from './options.js';

/**
 * Compares two HTTP responses the way the shadow dispatcher, the replay CLI and anything else in
 * canary-kit does: status, then the chosen headers, then the body. The body takes the cheapest road that
 * settles it: equal raw bytes under the same encoding match without decoding or parsing; otherwise both are
 * decoded, JSON bodies are deep-diffed under `$` (ignore paths, tolerance, array order), and anything
 * else is compared byte for byte.
 */

/** One side of a comparison, as captured (headers as Node gives them; names in any case). */
export interface CapturedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[] | number | undefined>>;
  readonly body: Uint8Array | undefined;
  /** The body was cut at the capture limit: it cannot be compared. */
  readonly bodyTruncated?: boolean;
}

export type ResponseOutcome = 'match' | 'mismatch' | 'skipped';

/**
 * Why nothing could be concluded: `truncated` (a body over the capture limit), `budget` (a JSON body over
 * `maxJsonBytes`, or its diff past `maxNodes`/`budgetMs`/`maxDepth`), `too-large` (decodes past
 * `maxDecodedBytes`), `unsupported-encoding`, `error` (invalid options, or a bug: see `error`).
 */
export type ResponseSkipReason = 'truncated' | 'budget' | 'too-large' | 'unsupported-encoding' | 'error';

export interface ResponseDiff {
  /**
   * `mismatch` as soon as any difference is certain, even if the body could not be compared (a status
   * change is a finding whatever the body); `skipped` when there is no difference but part of the
   * comparison could not run (`reason`); `match` otherwise.
   */
  readonly outcome: ResponseOutcome;
  /** Set on `skipped`; also on `mismatch` when the body comparison could not finish. */
  readonly reason?: ResponseSkipReason;
  readonly differences: Difference[];
  /** More than `maxDifferences` differences: the rest were not looked for. */
  readonly truncated: boolean;
  /** With reason `error`: what went wrong. */
  readonly error?: Error;
}

const EMPTY = Buffer.alloc(0);

/** Compares two responses. Never rejects: a failure of any kind is `skipped` with a reason. */
export async function compareResponses(
  primary: CapturedResponse,
  candidate: CapturedResponse,
  options?: ResponseDiffOptions | CompiledDiffOptions,
): Promise<ResponseDiff> {
  const differences: Difference[] = [];
  try {
    const o = compileDiffOptions(options);
    const diff = new ResponseComparison(o, differences);
    if (primary.status !== candidate.status)
      diff.add({ path: 'status', kind: 'changed', primary: primary.status, candidate: candidate.status });
    for (const name of o.headers) diff.header(name, headerOf(primary, name), headerOf(candidate, name));
    const reason = diff.full ? undefined : await diff.body(primary, candidate);
    const result: { -readonly [K in keyof ResponseDiff]: ResponseDiff[K] } = {
      outcome:
        differences.length > 0 || diff.truncated ? 'mismatch' : reason === undefined ? 'match' : 'skipped',
      differences,
      truncated: diff.truncated,
    };
    if (reason !== undefined) result.reason = reason;
    return result;
  } catch (error) {
    return {
      outcome: 'skipped',
      reason: 'error',
      differences: [],
      truncated: false,
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
}

class ResponseComparison {
  truncated = false;
  readonly #o: CompiledDiffOptions;
  readonly #differences: Difference[];

  constructor(options: CompiledDiffOptions, differences: Difference[]) {
    this.#o = options;
    this.#differences = differences;
  }

  get full(): boolean {
    return this.truncated;
  }

  add(difference: Difference): void {
    if (this.#differences.length >= this.#o.maxDifferences) this.truncated = true;
    else this.#differences.push(difference);
  }

  header(name: string, a: string | undefined, b: string | undefined): void {
    if (a === b) return;
    const path = `headers.${name}`;
    if (b === undefined) this.add({ path, kind: 'missing', primary: a });
    else if (a === undefined) this.add({ path, kind: 'added', candidate: b });
    else if (name === 'content-type' ? !sameContentType(a, b) : a !== b)
      this.add({ path, kind: 'changed', primary: a, candidate: b });
  }

  async body(
    primary: CapturedResponse,
    candidate: CapturedResponse,
  ): Promise<ResponseSkipReason | undefined> {
    if (primary.bodyTruncated || candidate.bodyTruncated) return 'truncated';
    const rawA = primary.body ?? EMPTY;
    const rawB = candidate.body ?? EMPTY;
    const codingsA = parseContentEncoding(headerOf(primary, 'content-encoding'));
    const codingsB = parseContentEncoding(headerOf(candidate, 'content-encoding'));
    // The fast path: identical bytes in identical encodings are identical content. No decode, no parse.
    if (sameCodings(codingsA, codingsB) && bytesEqual(rawA, rawB)) return undefined;

    const max = this.#o.maxDecodedBytes;
    const [decodedA, decodedB] = await Promise.all([
      codingsA.length === 0 ? plain(rawA) : decodeCodings(rawA, codingsA, max),
      codingsB.length === 0 ? plain(rawB) : decodeCodings(rawB, codingsB, max),
    ]);
    if (!decodedA.ok || !decodedB.ok) return this.#undecodable(decodedA, decodedB, rawA, rawB);
    const a = decodedA.body;
    const b = decodedB.body;
    if (a.equals(b)) return undefined;

    const typeA = headerOf(primary, 'content-type');
    const typeB = headerOf(candidate, 'content-type');
    const jsonA = jsonKind(typeA, a);
    const jsonB = jsonKind(typeB, b);
    if (jsonA !== NOT_JSON || jsonB !== NOT_JSON) {
      if (a.length > this.#o.maxJsonBytes || b.length > this.#o.maxJsonBytes) return 'budget';
      const parsedA = jsonA === NOT_JSON ? NOT_PARSED : parseJson(a);
      const parsedB = jsonB === NOT_JSON ? NOT_PARSED : parseJson(b);
      if (parsedA.ok && parsedB.ok) return this.#json(parsedA.value, parsedB.value);
      // One side JSON, the other not (a declared JSON body that does not parse, or an HTML error page).
      if (parsedA.ok !== parsedB.ok) {
        const which = parsedA.ok ? 'candidate' : 'primary';
        const failed = parsedA.ok ? parsedB : parsedA;
        const why =
          !failed.ok && failed.error !== undefined
            ? `not valid JSON: ${failed.error}`
            : `not JSON (${(parsedA.ok ? typeB : typeA) ?? 'no content-type'})`;
        const at = firstDifference(a, b);
        this.add({
          path: 'body',
          kind: 'type',
          primary: bodyPreview(a, at, this.#o.maxValueLength),
          candidate: bodyPreview(b, at, this.#o.maxValueLength),
          detail: `${which} body is ${why}`,
        });
        return undefined;
      }
    }
    this.#bytes(a, b);
    return undefined;
  }

  #json(a: unknown, b: unknown): ResponseSkipReason | undefined {
    const result = diffValues(a, b, this.#o, this.#differences, this.#o.maxDifferences, true);
    if (result.truncated) this.truncated = true;
    return result.skipped;
  }

  #bytes(a: Buffer, b: Buffer, detail?: string): void {
    const at = firstDifference(a, b);
    const max = this.#o.maxValueLength;
    this.add({
      path: 'body',
      kind: 'changed',
      primary: bodyPreview(a, at, max),
      candidate: bodyPreview(b, at, max),
      detail: detail ?? describeByteDifference(a, b),
    });
  }

  #undecodable(
    a: DecodeResult,
    b: DecodeResult,
    rawA: Uint8Array,
    rawB: Uint8Array,
  ): ResponseSkipReason | undefined {
    // Limits and unknown encodings leave nothing to compare; a corrupt body next to a good one is a finding.
    for (const reason of ['too-large', 'unsupported-encoding'] as const)
      if ((!a.ok && a.reason === reason) || (!b.ok && b.reason === reason)) return reason;
    const side = !a.ok && !b.ok ? 'both bodies' : !a.ok ? 'primary body' : 'candidate body';
    const coding = !a.ok ? a.encoding : !b.ok ? b.encoding : '';
    this.#bytes(
      a.ok ? a.body : Buffer.from(rawA.buffer, rawA.byteOffset, rawA.byteLength),
      b.ok ? b.body : Buffer.from(rawB.buffer, rawB.byteOffset, rawB.byteLength),
      `${side}: not valid ${coding}`,
    );
    return undefined;
  }
}

// ── headers ─────────────────────────────────────────────────────────────────────────────────────────

/** A header's value, whatever the case of its name; several values joined as HTTP would. */
function headerOf(response: CapturedResponse, name: string): string | undefined {
  const headers = response.headers;
  if (headers === null || typeof headers !== 'object') return undefined;
  let value = headers[name];
  if (value === undefined)
    for (const key in headers)
      if (key.length === name.length && key.toLowerCase() === name) {
        value = headers[key];
        break;
      }
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(', ') : String(value)).trim();
}

/**
 * Media types compare case-insensitively and parameters are ignored, except a charset both sides state
 * differently: `application/json` and `application/json; charset=utf-8` are the same body (JSON is UTF-8),
 * `text/html; charset=utf-8` and `text/html; charset=iso-8859-1` are not.
 */
export function sameContentType(a: string, b: string): boolean {
  const ta = parseContentType(a);
  const tb = parseContentType(b);
  return (
    ta.type === tb.type && (ta.charset === undefined || tb.charset === undefined || ta.charset === tb.charset)
  );
}

function parseContentType(value: string): { type: string; charset: string | undefined } {
  const parts = value.split(';');
  let charset: string | undefined;
  for (let i = 1; i < parts.length; i++) {
    const [name, raw] = parts[i]!.split('=', 2);
    if (name?.trim().toLowerCase() === 'charset' && raw !== undefined)
      charset = raw
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
  }
  return { type: parts[0]!.trim().toLowerCase(), charset };
}

// ── bodies ──────────────────────────────────────────────────────────────────────────────────────────

function plain(body: Uint8Array): Promise<DecodeResult> {
  return Promise.resolve({
    ok: true,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function sameCodings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(isGzip(a[i]!) && isGzip(b[i]!))) return false;
  return true;
}

const isGzip = (coding: string) => coding === 'gzip' || coding === 'x-gzip';

const NOT_JSON = 0;
const DECLARED = 1;
const SNIFFED = 2;

/**
 * JSON by content type (`application/json`, `…+json`); with no content type at all, by a first
 * non-blank byte of `{` or `[`. A sniffed body that does not parse is just text.
 */
function jsonKind(contentType: string | undefined, body: Buffer): number {
  if (contentType !== undefined) {
    const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
    return type === 'application/json' || type.endsWith('+json') ? DECLARED : NOT_JSON;
  }
  const first = body[firstContentByte(body)];
  return first === 0x7b || first === 0x5b ? SNIFFED : NOT_JSON;
}

/** Index of the first byte after a UTF-8 BOM and JSON whitespace. */
function firstContentByte(body: Buffer): number {
  let i = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09))
    i++;
  return i;
}

type Parsed =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error?: string };
const NOT_PARSED: Parsed = { ok: false };

function parseJson(body: Buffer): Parsed {
  try {
    const bom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
    return { ok: true, value: JSON.parse(body.toString('utf8', bom)) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function firstDifference(a: Buffer, b: Buffer): number {
  const shared = Math.min(a.length, b.length);
  let at = 0;
  while (at < shared && a[at] === b[at]) at++;
  return at;
}

/** Up to `max` characters of a body around byte `at`: text as text, binary as hex. */
function bodyPreview(body: Buffer, at: number, max: number): unknown {
  const start = Math.max(0, Math.min(at, body.length) - 16);
  const slice = body.subarray(start, start + max);
  const binary = slice.includes(0);
  const shown = binary
    ? `<${slice.subarray(0, Math.ceil(max / 2)).toString('hex')}>`
    : slice.toString('utf8');
  const text = `${start > 0 ? '…' : ''}${shown}`;
  return previewValue(start + slice.length < body.length ? `${text}…` : text, max + 2);
}
