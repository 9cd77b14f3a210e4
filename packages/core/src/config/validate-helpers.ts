import type { ConfigIssue } from './errors.js';
import { childPath } from './path.js';

/** Building blocks of the config checks: each records issues with their path instead of throwing. */

type Issues = ConfigIssue[];

export const MAX_LIST = 100_000;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

export function unknownKeys(
  obj: Record<string, unknown>,
  allowed: ReadonlySet<string>,
  path: string,
  issues: Issues,
) {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) issues.push({ path: childPath(path, key), message: 'unknown option' });
  }
}

export function stringList(
  value: unknown,
  path: string,
  issues: Issues,
  opts: { nonEmpty?: boolean } = {},
): string[] {
  if (!Array.isArray(value)) {
    issues.push({ path, message: `must be an array of strings, got ${describe(value)}` });
    return [];
  }
  if (value.length > MAX_LIST) {
    issues.push({ path, message: `must have at most ${MAX_LIST} entries` });
    return [];
  }
  if (opts.nonEmpty && value.length === 0) issues.push({ path, message: 'must not be empty' });
  const out: string[] = [];
  // An index loop, not forEach: holes in a sparse array are reported, not skipped.
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string' || item.length === 0) {
      issues.push({ path: childPath(path, i), message: `must be a non-empty string, got ${describe(item)}` });
    } else out.push(item);
  }
  return out;
}

export function validatePercentage(value: unknown, path: string, issues: Issues): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push({ path, message: `must be a number, got ${describe(value)}` });
    return 0;
  }
  if (value < 0 || value > 100) {
    issues.push({ path, message: 'must be between 0 and 100' });
    return 0;
  }
  const hundredths = Math.round(value * 100);
  if (Math.abs(hundredths - value * 100) > 1e-6) {
    issues.push({ path, message: 'must be a multiple of 0.01' });
    return 0;
  }
  return hundredths / 100 + 0; // + 0 turns -0 into 0
}

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
