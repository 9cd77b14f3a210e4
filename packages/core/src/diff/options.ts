import { CanaryConfigError, type ConfigIssue } from '../config/errors.js';
import { type MatchState, PathMatcher, type PathPattern, parsePath } from './json-path.js';

/**
 * How array elements are paired: by position, as a multiset (order ignored), or by a key field
 * (`{ key: 'id' }`: elements with the same `id` are compared, whatever their positions).
 */
export type ArrayOrder = 'ordered' | 'unordered' | { readonly key: string };

/**
 * Numbers closer than this are equal. A number is an absolute tolerance; `relative` is a fraction of the
 * larger magnitude (`0.01` = 1 %). With both, either one suffices.
 */
export type Tolerance = number | { readonly absolute?: number; readonly relative?: number };

/** How two values are compared. Shared by response diffs and in-process experiments. */
export interface DiffOptions {
  /** Paths never reported, e.g. `$.meta.requestId`, `$.items[*].updatedAt`, `$..traceId`. */
  readonly ignore?: readonly string[];
  readonly tolerance?: Tolerance;
  /** Default `'ordered'`. */
  readonly arrayOrder?: ArrayOrder;
  /** Per-path array order, e.g. `{ '$.items': { key: 'id' }, '$..tags': 'unordered' }`; the first match wins. */
  readonly arrays?: Readonly<Record<string, ArrayOrder>>;
  /** Differences reported before stopping with `truncated: true`. Default 50; 0 only answers "equal?". */
  readonly maxDifferences?: number;
  /** Nodes visited before giving up with `skipped: 'budget'`. Default 100,000. Deterministic. */
  readonly maxNodes?: number;
  /** Wall-clock budget for one comparison, checked every 1,024 nodes. Off by default. */
  readonly budgetMs?: number;
  /** Nesting deeper than this is skipped by budget (protects the stack). Default 500. */
  readonly maxDepth?: number;
  /** Reported values are cut to about this many characters. Default 200. */
  readonly maxValueLength?: number;
}

/** Response diffs add headers, decoding and parse limits to the value options. */
export interface ResponseDiffOptions extends DiffOptions {
  /** Headers compared, case-insensitively. Default `['content-type']`. */
  readonly headers?: readonly string[];
  /** A body decoding to more than this is skipped as `too-large` (zip-bomb guard). Default 8 MiB. */
  readonly maxDecodedBytes?: number;
  /** A JSON body larger than this is not parsed; skipped by budget. Default 1 MiB. */
  readonly maxJsonBytes?: number;
}

/** What a path pattern means to the differ. */
export type PathTag = { readonly ignore: true } | { readonly order: ArrayOrder };
export type DiffState = MatchState<PathTag>;

const IGNORE: PathTag = Object.freeze({ ignore: true });

export const DEFAULT_MAX_DIFFERENCES = 50;
export const DEFAULT_MAX_NODES = 100_000;
export const DEFAULT_MAX_DEPTH = 500;
export const DEFAULT_MAX_VALUE_LENGTH = 200;
export const DEFAULT_MAX_DECODED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_JSON_BYTES = 1024 * 1024;
export const DEFAULT_HEADERS: readonly string[] = Object.freeze(['content-type']);

/** True when a pattern in `ignore` ends at this node. */
export function isIgnored(state: DiffState): boolean {
  const matches = state.matches;
  for (let i = 0; i < matches.length; i++) if (matches[i] === IGNORE) return true;
  return false;
}

/** The array order for the array at this node: the first `arrays` pattern ending here, else `fallback`. */
export function orderAt(state: DiffState, fallback: ArrayOrder): ArrayOrder {
  const matches = state.matches;
  for (let i = 0; i < matches.length; i++) {
    const tag = matches[i]!;
    if ('order' in tag) return tag.order;
  }
  return fallback;
}

/**
 * Validated options with their paths compiled. Compile once and reuse: `compareValues` and
 * `compareResponses` accept either, and remember the compiled form of a raw options object they see again
 * (so an options object is taken as immutable once used: build a new one to change it).
 */
export class CompiledDiffOptions {
  readonly root: DiffState;
  readonly arrayOrder: ArrayOrder;
  /** False when numbers must be exactly equal (no tolerance): skips the arithmetic. */
  readonly tolerant: boolean;
  readonly absolute: number;
  readonly relative: number;
  readonly maxDifferences: number;
  readonly maxNodes: number;
  readonly budgetMs: number | undefined;
  readonly maxDepth: number;
  readonly maxValueLength: number;
  /** Lower-cased header names. */
  readonly headers: readonly string[];
  readonly maxDecodedBytes: number;
  readonly maxJsonBytes: number;

  /** Use `compileDiffOptions`, which validates; this only copies validated fields. */
  constructor(fields: CompiledDiffOptions) {
    this.root = fields.root;
    this.arrayOrder = fields.arrayOrder;
    this.tolerant = fields.tolerant;
    this.absolute = fields.absolute;
    this.relative = fields.relative;
    this.maxDifferences = fields.maxDifferences;
    this.maxNodes = fields.maxNodes;
    this.budgetMs = fields.budgetMs;
    this.maxDepth = fields.maxDepth;
    this.maxValueLength = fields.maxValueLength;
    this.headers = fields.headers;
    this.maxDecodedBytes = fields.maxDecodedBytes;
    this.maxJsonBytes = fields.maxJsonBytes;
  }
}

const compiledCache = new WeakMap<object, CompiledDiffOptions>();
let defaults: CompiledDiffOptions | undefined;

/** Validates and compiles options; throws CanaryConfigError naming every bad field (`ignore[1]: ...`). */
export function compileDiffOptions(options?: ResponseDiffOptions | CompiledDiffOptions): CompiledDiffOptions {
  if (options instanceof CompiledDiffOptions) return options;
  if (options === undefined) {
    defaults ??= compile({});
    return defaults;
  }
  if (options === null || typeof options !== 'object')
    throw new CanaryConfigError([{ path: '', message: 'diff options must be an object' }]);
  let compiled = compiledCache.get(options);
  if (compiled === undefined) {
    compiled = compile(options);
    compiledCache.set(options, compiled);
  }
  return compiled;
}

function compile(options: ResponseDiffOptions): CompiledDiffOptions {
  const issues: ConfigIssue[] = [];
  const patterns: PathPattern<PathTag>[] = [];

  const ignore: unknown = options.ignore ?? [];
  if (!Array.isArray(ignore)) issues.push({ path: 'ignore', message: 'must be an array of paths' });
  else
    ignore.forEach((text: unknown, i) => {
      const parsed = parsePath(text as string);
      if (parsed.ok) patterns.push({ segments: parsed.segments, tag: IGNORE });
      else issues.push({ path: `ignore[${i}]`, message: parsed.message });
    });

  const arrayOrder = checkOrder(options.arrayOrder ?? 'ordered', 'arrayOrder', issues);
  const arrays: unknown = options.arrays ?? {};
  if (arrays === null || typeof arrays !== 'object' || Array.isArray(arrays))
    issues.push({ path: 'arrays', message: 'must be an object mapping paths to an array order' });
  else
    for (const [text, order] of Object.entries(arrays)) {
      const where = `arrays[${JSON.stringify(text)}]`;
      const parsed = parsePath(text);
      const checked = checkOrder(order, where, issues);
      if (!parsed.ok) issues.push({ path: where, message: parsed.message });
      else if (checked) patterns.push({ segments: parsed.segments, tag: Object.freeze({ order: checked }) });
    }

  let absolute = 0;
  let relative = 0;
  const tolerance: unknown = options.tolerance ?? 0;
  if (typeof tolerance === 'number') absolute = checkNumber(tolerance, 'tolerance', issues);
  else if (tolerance !== null && typeof tolerance === 'object') {
    const t = tolerance as { absolute?: unknown; relative?: unknown };
    absolute = checkNumber(t.absolute ?? 0, 'tolerance.absolute', issues);
    relative = checkNumber(t.relative ?? 0, 'tolerance.relative', issues);
  } else issues.push({ path: 'tolerance', message: 'must be a number or { absolute?, relative? }' });

  const headers: unknown = options.headers ?? DEFAULT_HEADERS;
  let headerNames: string[] = [];
  if (!Array.isArray(headers) || headers.some((h) => typeof h !== 'string' || h.trim() === ''))
    issues.push({ path: 'headers', message: 'must be an array of header names' });
  else headerNames = [...new Set(headers.map((h: string) => h.trim().toLowerCase()))];

  const budgetMs: unknown = options.budgetMs;
  if (budgetMs !== undefined && !(typeof budgetMs === 'number' && budgetMs > 0 && budgetMs < Infinity))
    issues.push({ path: 'budgetMs', message: 'must be a positive number of milliseconds' });

  const fields = {
    root: new PathMatcher(patterns).root,
    arrayOrder: arrayOrder ?? 'ordered',
    tolerant: absolute > 0 || relative > 0,
    absolute,
    relative,
    maxDifferences: checkInteger(
      options.maxDifferences,
      DEFAULT_MAX_DIFFERENCES,
      0,
      'maxDifferences',
      issues,
    ),
    maxNodes: checkInteger(options.maxNodes, DEFAULT_MAX_NODES, 1, 'maxNodes', issues),
    budgetMs: budgetMs as number | undefined,
    maxDepth: checkInteger(options.maxDepth, DEFAULT_MAX_DEPTH, 1, 'maxDepth', issues),
    maxValueLength: checkInteger(
      options.maxValueLength,
      DEFAULT_MAX_VALUE_LENGTH,
      1,
      'maxValueLength',
      issues,
    ),
    headers: headerNames,
    maxDecodedBytes: checkInteger(
      options.maxDecodedBytes,
      DEFAULT_MAX_DECODED_BYTES,
      1,
      'maxDecodedBytes',
      issues,
    ),
    maxJsonBytes: checkInteger(options.maxJsonBytes, DEFAULT_MAX_JSON_BYTES, 1, 'maxJsonBytes', issues),
  };
  if (issues.length > 0) throw new CanaryConfigError(issues);
  return new CompiledDiffOptions(fields);
}

function checkOrder(order: unknown, path: string, issues: ConfigIssue[]): ArrayOrder | undefined {
  if (order === 'ordered' || order === 'unordered') return order;
  if (order !== null && typeof order === 'object' && !Array.isArray(order)) {
    const key = (order as { key?: unknown }).key;
    if (typeof key === 'string' && key !== '') return Object.freeze({ key });
  }
  issues.push({ path, message: `must be 'ordered', 'unordered' or { key: 'field' }` });
  return undefined;
}

function checkNumber(value: unknown, path: string, issues: ConfigIssue[]): number {
  if (typeof value === 'number' && value >= 0 && value < Infinity) return value;
  issues.push({ path, message: 'must be a finite number >= 0' });
  return 0;
}

function checkInteger(value: unknown, fallback: number, min: number, path: string, issues: ConfigIssue[]) {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value;
  issues.push({ path, message: `must be an integer >= ${min}` });
  return fallback;
}
