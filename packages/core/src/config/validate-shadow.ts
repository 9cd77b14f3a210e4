import { type CompiledDiffOptions, compileDiffOptions, type ResponseDiffOptions } from '../diff/options.js';
import { CanaryConfigError, type ConfigIssue } from './errors.js';
import { childPath } from './path.js';
import type { NormalizedUpstream } from './types.js';
import {
  describe,
  isPlainObject,
  positiveInteger,
  stringList,
  unknownKeys,
  validatePercentage,
  validateUrl,
} from './validate-helpers.js';

type Issues = ConfigIssue[];

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
  /** How the answers are compared: ignore paths, tolerance, array order, caps (see the differ). */
  diff?: ResponseDiffOptions;
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
  readonly diff: CompiledDiffOptions;
  readonly circuitBreaker: { readonly failureThreshold: number; readonly cooldownMs: number } | false;
  readonly mismatchLog:
    | { readonly path: string; readonly maxFileBytes: number; readonly maxFiles: number }
    | undefined;
}

const METHOD = /^[A-Z]+$/;

/** The differ validates its own options; its issues are re-rooted under this shadow's `diff`. */
function validateDiff(value: unknown, path: string, issues: Issues): CompiledDiffOptions | undefined {
  if (value !== undefined && !isPlainObject(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return undefined;
  }
  try {
    return compileDiffOptions(value as ResponseDiffOptions | undefined);
  } catch (error) {
    if (!(error instanceof CanaryConfigError)) throw error;
    for (const issue of error.issues) {
      issues.push({
        path: issue.path ? `${path}.${issue.path}`.replace('.[', '[') : path,
        message: issue.message,
      });
    }
    return undefined;
  }
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
  const circuitBreaker = validateCircuitBreaker(value.circuitBreaker, at('circuitBreaker'), issues);
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
  if (issues.length > before || !target || !diff) return undefined;
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

const UPSTREAM_KEYS = new Set([
  'url',
  'timeoutMs',
  'bodyTimeoutMs',
  'connections',
  'circuitBreaker',
  'healthCheck',
]);

export function validateCircuitBreaker(value: unknown, path: string, issues: Issues) {
  if (value === false) return false as const;
  const defaults = { failureThreshold: 5, cooldownMs: 10_000 };
  if (value === undefined) return defaults;
  if (!isPlainObject(value)) {
    issues.push({ path, message: 'must be { failureThreshold, cooldownMs } or false' });
    return defaults;
  }
  unknownKeys(value, new Set(['failureThreshold', 'cooldownMs']), path, issues);
  return {
    failureThreshold: positiveInteger(
      value.failureThreshold,
      5,
      childPath(path, 'failureThreshold'),
      issues,
      10_000,
    ),
    cooldownMs: positiveInteger(value.cooldownMs, 10_000, childPath(path, 'cooldownMs'), issues),
  };
}

/** A flag's `upstream`: a URL, or `{ url, timeoutMs, bodyTimeoutMs, connections, circuitBreaker, healthCheck }`. */
export function validateUpstream(
  value: unknown,
  path: string,
  issues: Issues,
): NormalizedUpstream | undefined {
  const input = typeof value === 'string' ? { url: value } : value;
  if (!isPlainObject(input)) {
    issues.push({ path, message: `must be a URL or { url, … }, got ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  unknownKeys(input, UPSTREAM_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);
  const url = validateUrl(input.url, typeof value === 'string' ? path : at('url'), issues);
  const timeoutMs = positiveInteger(input.timeoutMs, 5_000, at('timeoutMs'), issues, 600_000);
  const bodyTimeoutMs = positiveInteger(input.bodyTimeoutMs, 30_000, at('bodyTimeoutMs'), issues, 3_600_000);
  const connections = positiveInteger(input.connections, 32, at('connections'), issues, 10_000);
  const circuitBreaker = validateCircuitBreaker(input.circuitBreaker, at('circuitBreaker'), issues);
  let healthCheck: NormalizedUpstream['healthCheck'];
  if (input.healthCheck !== undefined) {
    const h = input.healthCheck;
    if (!isPlainObject(h) || typeof h.path !== 'string' || !h.path.startsWith('/')) {
      issues.push({
        path: at('healthCheck'),
        message: 'must be { path: "/health", intervalMs?, timeoutMs? }',
      });
    } else {
      unknownKeys(h, new Set(['path', 'intervalMs', 'timeoutMs']), at('healthCheck'), issues);
      healthCheck = {
        path: h.path,
        intervalMs: positiveInteger(h.intervalMs, 5_000, childPath(at('healthCheck'), 'intervalMs'), issues),
        timeoutMs: positiveInteger(h.timeoutMs, 1_000, childPath(at('healthCheck'), 'timeoutMs'), issues),
      };
    }
  }
  if (issues.length > before || !url) return undefined;
  return { url, timeoutMs, bodyTimeoutMs, connections, circuitBreaker, healthCheck };
}
