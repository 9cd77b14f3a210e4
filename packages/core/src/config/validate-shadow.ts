import type { ConfigIssue } from './errors.js';
import { childPath } from './path.js';
import { describe, isPlainObject, stringList, unknownKeys, validatePercentage } from './validate-helpers.js';

type Issues = ConfigIssue[];

export type ArrayOrder = 'ordered' | 'unordered' | { readonly key: string };

/** How a shadow's answer is compared with the primary's (also used by replay and experiments). */
export interface DiffConfig {
  /** Response headers compared. Default `['content-type']`. */
  headers?: readonly string[];
  /** JSON paths never compared: `$.meta.requestId`, `$.items[*].updatedAt`, `$..traceId`. */
  ignore?: readonly string[];
  /** Numbers equal within this absolute difference, or `{ absolute, relative }`. Default 0. */
  tolerance?: number | { readonly absolute?: number; readonly relative?: number };
  /** How arrays compare: in order (default), as multisets, or matched by a key field. */
  arrayOrder?: ArrayOrder;
  /** Per-path array order, e.g. `{ '$.items': { key: 'id' } }`. */
  arrays?: Readonly<Record<string, ArrayOrder>>;
  /** Differences reported per response; past it the report says `truncated`. Default 50. */
  maxDifferences?: number;
  /** JSON nodes visited per comparison; past it the comparison is skipped and counted. Default 200,000. */
  maxNodes?: number;
}

export interface ShadowConfig {
  /** The `target` metric label and the name routes opt in by. Default: the target's host. */
  name?: string;
  /** Where copies go: the candidate service. */
  target: string;
  /** A second instance running the primary's version: fields that differ there too are noise. */
  secondary?: string;
  /** Share of eligible requests mirrored, 0–100. Default 100. */
  percentage?: number;
  /** `random` (default) or `identity` (the same users are always mirrored). */
  sampleBy?: 'identity' | 'random';
  /** Methods mirrored. Default GET, HEAD, OPTIONS; write methods only on routes that opt in with `writes`. */
  methods?: readonly string[];
  /** Path patterns mirrored (`/api/*` one segment, `/api/**` any depth). Routes can also opt in. */
  paths?: readonly string[];
  /** Routes bound to these flags are mirrored. */
  flags?: readonly string[];
  /** Per copy, headers and body. Default 2000 ms. */
  timeoutMs?: number;
  /** Copies in flight; past it, new ones are dropped and counted. Default 64. */
  maxInFlight?: number;
  /** Header names stripped besides authorization, cookie, proxy-authorization and x-api-key. */
  stripHeaders?: readonly string[];
  /** Request bodies larger than this are not mirrored (counted as skipped). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Response bytes kept from each side for the diff. Default 1 MiB. */
  maxResponseBytes?: number;
  diff?: DiffConfig;
  /** Stop sending to a failing target and probe it later. `false` turns it off. */
  circuitBreaker?: { failureThreshold?: number; cooldownMs?: number } | false;
  /** A bounded, size-rotated JSONL file of mismatches (credentials already stripped). */
  mismatchLog?: { path: string; maxFileBytes?: number; maxFiles?: number };
}

export interface NormalizedShadow {
  readonly name: string;
  readonly target: string;
  readonly secondary: string | undefined;
  readonly percentage: number;
  readonly sampleBy: 'identity' | 'random';
  readonly methods: readonly string[];
  readonly paths: readonly string[];
  readonly flags: readonly string[];
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly stripHeaders: readonly string[];
  readonly maxBodyBytes: number;
  readonly maxResponseBytes: number;
  readonly diff: DiffConfig;
  readonly circuitBreaker: { readonly failureThreshold: number; readonly cooldownMs: number } | false;
  readonly mismatchLog:
    | { readonly path: string; readonly maxFileBytes: number; readonly maxFiles: number }
    | undefined;
}

const METHOD = /^[A-Z]+$/;

export function validateUrl(value: unknown, path: string, issues: Issues): string | undefined {
  if (typeof value !== 'string') {
    issues.push({ path, message: `must be an http(s) URL, got ${describe(value)}` });
    return undefined;
  }
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    if (url.search || url.hash) {
      issues.push({ path, message: 'must not have a query or fragment' });
      return undefined;
    }
    return url.href.replace(/\/$/, '');
  } catch {
    issues.push({ path, message: `must be an http(s) URL, got ${describe(value)}` });
    return undefined;
  }
}

export function positiveInteger(
  value: unknown,
  fallback: number,
  path: string,
  issues: Issues,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    issues.push({ path, message: `must be a whole number between 1 and ${max}` });
    return fallback;
  }
  return value;
}

function validateArrayOrder(value: unknown, path: string, issues: Issues): ArrayOrder | undefined {
  if (value === 'ordered' || value === 'unordered') return value;
  if (
    isPlainObject(value) &&
    typeof value.key === 'string' &&
    value.key !== '' &&
    Object.keys(value).length === 1
  )
    return { key: value.key };
  issues.push({ path, message: 'must be "ordered", "unordered" or { key: "<field>" }' });
  return undefined;
}

const DIFF_KEYS = new Set([
  'headers',
  'ignore',
  'tolerance',
  'arrayOrder',
  'arrays',
  'maxDifferences',
  'maxNodes',
]);

export function validateDiff(value: unknown, path: string, issues: Issues): DiffConfig {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return {};
  }
  unknownKeys(value, DIFF_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  const out: { -readonly [K in keyof DiffConfig]: DiffConfig[K] } = {};
  if (value.headers !== undefined)
    out.headers = stringList(value.headers, at('headers'), issues).map((h) => h.toLowerCase());
  if (value.ignore !== undefined) {
    out.ignore = stringList(value.ignore, at('ignore'), issues);
    out.ignore.forEach((p, i) => {
      if (!p.startsWith('$'))
        issues.push({ path: childPath(at('ignore'), i), message: 'must be a JSON path starting with $' });
    });
  }
  if (value.tolerance !== undefined) {
    const t = value.tolerance;
    const ok = (n: unknown) => n === undefined || (typeof n === 'number' && Number.isFinite(n) && n >= 0);
    if (
      typeof t === 'number'
        ? ok(t)
        : isPlainObject(t) &&
          ok(t.absolute) &&
          ok(t.relative) &&
          Object.keys(t).every((k) => k === 'absolute' || k === 'relative')
    ) {
      out.tolerance = t as DiffConfig['tolerance'];
    } else
      issues.push({
        path: at('tolerance'),
        message: 'must be a number ≥ 0 or { absolute, relative } of numbers ≥ 0',
      });
  }
  if (value.arrayOrder !== undefined)
    out.arrayOrder = validateArrayOrder(value.arrayOrder, at('arrayOrder'), issues);
  if (value.arrays !== undefined) {
    if (!isPlainObject(value.arrays))
      issues.push({ path: at('arrays'), message: 'must map JSON paths to an array order' });
    else {
      const arrays: Record<string, ArrayOrder> = {};
      for (const [p, order] of Object.entries(value.arrays)) {
        const v = validateArrayOrder(order, childPath(at('arrays'), p), issues);
        if (v) arrays[p] = v;
      }
      out.arrays = arrays;
    }
  }
  if (value.maxDifferences !== undefined)
    out.maxDifferences = positiveInteger(value.maxDifferences, 50, at('maxDifferences'), issues, 10_000);
  if (value.maxNodes !== undefined)
    out.maxNodes = positiveInteger(value.maxNodes, 200_000, at('maxNodes'), issues);
  return out;
}

const SHADOW_KEYS = new Set([
  'name',
  'target',
  'secondary',
  'percentage',
  'sampleBy',
  'methods',
  'paths',
  'flags',
  'timeoutMs',
  'maxInFlight',
  'stripHeaders',
  'maxBodyBytes',
  'maxResponseBytes',
  'diff',
  'circuitBreaker',
  'mismatchLog',
]);

function validateOne(value: unknown, path: string, issues: Issues): NormalizedShadow | undefined {
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object with a target, got ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  unknownKeys(value, SHADOW_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  const target = validateUrl(value.target, at('target'), issues);
  const secondary =
    value.secondary === undefined ? undefined : validateUrl(value.secondary, at('secondary'), issues);
  let name = target ? new URL(target).host : '';
  if (value.name !== undefined) {
    if (typeof value.name !== 'string' || !/^[\w.:-]{1,64}$/.test(value.name)) {
      issues.push({ path: at('name'), message: 'must be 1–64 characters of letters, digits and _ . : -' });
    } else name = value.name;
  }
  const percentage =
    value.percentage === undefined ? 100 : validatePercentage(value.percentage, at('percentage'), issues);
  let sampleBy: 'identity' | 'random' = 'random';
  if (value.sampleBy !== undefined) {
    if (value.sampleBy !== 'identity' && value.sampleBy !== 'random')
      issues.push({ path: at('sampleBy'), message: 'must be "identity" or "random"' });
    else sampleBy = value.sampleBy;
  }
  let methods = ['GET', 'HEAD', 'OPTIONS'];
  if (value.methods !== undefined) {
    methods = stringList(value.methods, at('methods'), issues, { nonEmpty: true }).map((m) =>
      m.toUpperCase(),
    );
    methods.forEach((m, i) => {
      if (!METHOD.test(m))
        issues.push({ path: childPath(at('methods'), i), message: 'must be an HTTP method' });
    });
  }
  const paths = value.paths === undefined ? [] : stringList(value.paths, at('paths'), issues);
  paths.forEach((p, i) => {
    if (!p.startsWith('/')) issues.push({ path: childPath(at('paths'), i), message: 'must start with /' });
  });
  const flags = value.flags === undefined ? [] : stringList(value.flags, at('flags'), issues);
  const timeoutMs = positiveInteger(value.timeoutMs, 2000, at('timeoutMs'), issues, 600_000);
  const maxInFlight = positiveInteger(value.maxInFlight, 64, at('maxInFlight'), issues, 100_000);
  const stripHeaders = (
    value.stripHeaders === undefined ? [] : stringList(value.stripHeaders, at('stripHeaders'), issues)
  ).map((h) => h.toLowerCase());
  const maxBodyBytes = positiveInteger(value.maxBodyBytes, 1024 * 1024, at('maxBodyBytes'), issues);
  const maxResponseBytes = positiveInteger(
    value.maxResponseBytes,
    1024 * 1024,
    at('maxResponseBytes'),
    issues,
  );
  const diff = validateDiff(value.diff, at('diff'), issues);
  let circuitBreaker: NormalizedShadow['circuitBreaker'] = { failureThreshold: 5, cooldownMs: 10_000 };
  if (value.circuitBreaker === false) circuitBreaker = false;
  else if (value.circuitBreaker !== undefined) {
    const cb = value.circuitBreaker;
    if (!isPlainObject(cb))
      issues.push({
        path: at('circuitBreaker'),
        message: 'must be { failureThreshold, cooldownMs } or false',
      });
    else {
      unknownKeys(cb, new Set(['failureThreshold', 'cooldownMs']), at('circuitBreaker'), issues);
      circuitBreaker = {
        failureThreshold: positiveInteger(
          cb.failureThreshold,
          5,
          childPath(at('circuitBreaker'), 'failureThreshold'),
          issues,
          10_000,
        ),
        cooldownMs: positiveInteger(
          cb.cooldownMs,
          10_000,
          childPath(at('circuitBreaker'), 'cooldownMs'),
          issues,
        ),
      };
    }
  }
  let mismatchLog: NormalizedShadow['mismatchLog'];
  if (value.mismatchLog !== undefined) {
    const m = value.mismatchLog;
    if (!isPlainObject(m) || typeof m.path !== 'string' || m.path === '') {
      issues.push({ path: at('mismatchLog'), message: 'must be { path, maxFileBytes?, maxFiles? }' });
    } else {
      unknownKeys(m, new Set(['path', 'maxFileBytes', 'maxFiles']), at('mismatchLog'), issues);
      mismatchLog = {
        path: m.path,
        maxFileBytes: positiveInteger(
          m.maxFileBytes,
          16 * 1024 * 1024,
          childPath(at('mismatchLog'), 'maxFileBytes'),
          issues,
        ),
        maxFiles: positiveInteger(m.maxFiles, 3, childPath(at('mismatchLog'), 'maxFiles'), issues, 1000),
      };
    }
  }
  if (issues.length > before || !target) return undefined;
  return {
    name,
    target,
    secondary,
    percentage,
    sampleBy,
    methods,
    paths,
    flags,
    timeoutMs,
    maxInFlight,
    stripHeaders,
    maxBodyBytes,
    maxResponseBytes,
    diff,
    circuitBreaker,
    mismatchLog,
  };
}

/** `shadow`: one target or a list; names must be unique. */
export function validateShadows(value: unknown, issues: Issues): NormalizedShadow[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: NormalizedShadow[] = [];
  const names = new Set<string>();
  list.forEach((item, i) => {
    const path = Array.isArray(value) ? childPath('shadow', i) : 'shadow';
    const shadow = validateOne(item, path, issues);
    if (!shadow) return;
    if (names.has(shadow.name))
      issues.push({
        path: childPath(path, 'name'),
        message: `"${shadow.name}" is used by another shadow target`,
      });
    names.add(shadow.name);
    out.push(shadow);
  });
  return out;
}
