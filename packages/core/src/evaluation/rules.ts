import type { RuleConfig } from '../config/types.js';
import type { AttributeValue, EvalContext } from '../types.js';
import { compareSemver, parseSemver } from './semver.js';

/** A compiled rule: true when the context matches. Never throws, whatever the context holds. */
export type RulePredicate = (context: EvalContext) => boolean;

const STANDARD_KEYS = new Set(['userId', 'sessionId', 'tenantId', 'ip']);

/**
 * Reads `attribute` from the context: the standard keys from the context itself, anything else from
 * `context.attributes`. Returns undefined for anything that is not a string, finite number or boolean.
 */
export function readAttribute(
  context: EvalContext,
  attribute: string,
  standard: boolean,
): AttributeValue | undefined {
  let value: unknown;
  if (standard) value = (context as Record<string, unknown>)[attribute];
  else {
    const attributes = context.attributes;
    if (attributes === null || typeof attributes !== 'object' || !Object.hasOwn(attributes, attribute))
      return undefined;
    value = attributes[attribute];
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}

function stringTest(values: readonly AttributeValue[], test: (actual: string, expected: string) => boolean) {
  const expected = values.map(String);
  return (actual: AttributeValue) => {
    const s = String(actual);
    for (const e of expected) if (test(s, e)) return true;
    return false;
  };
}

function numberTest(values: readonly AttributeValue[], test: (actual: number, expected: number) => boolean) {
  const expected = values.map(Number);
  return (actual: AttributeValue) => {
    const n =
      typeof actual === 'number'
        ? actual
        : typeof actual === 'string' && actual.trim() !== ''
          ? Number(actual)
          : Number.NaN;
    if (Number.isNaN(n)) return false;
    for (const e of expected) if (test(n, e)) return true;
    return false;
  };
}

function semverTest(values: readonly AttributeValue[], test: (cmp: number) => boolean) {
  const expected = values.map(parseSemver).filter((v) => v !== undefined);
  return (actual: AttributeValue) => {
    const v = parseSemver(actual);
    if (!v) return false;
    for (const e of expected) if (test(compareSemver(v, e))) return true;
    return false;
  };
}

function matcher(rule: RuleConfig): (actual: AttributeValue) => boolean {
  const { values } = rule;
  switch (rule.operator) {
    case 'in':
    case 'eq': {
      const set = new Set(values.map(String));
      return (a) => set.has(String(a));
    }
    case 'not_in':
    case 'neq': {
      const set = new Set(values.map(String));
      return (a) => !set.has(String(a));
    }
    case 'starts_with':
      return stringTest(values, (a, e) => a.startsWith(e));
    case 'ends_with':
      return stringTest(values, (a, e) => a.endsWith(e));
    case 'contains':
      return stringTest(values, (a, e) => a.includes(e));
    case 'lt':
      return numberTest(values, (a, e) => a < e);
    case 'lte':
      return numberTest(values, (a, e) => a <= e);
    case 'gt':
      return numberTest(values, (a, e) => a > e);
    case 'gte':
      return numberTest(values, (a, e) => a >= e);
    case 'semver_eq':
      return semverTest(values, (c) => c === 0);
    case 'semver_lt':
      return semverTest(values, (c) => c < 0);
    case 'semver_lte':
      return semverTest(values, (c) => c <= 0);
    case 'semver_gt':
      return semverTest(values, (c) => c > 0);
    case 'semver_gte':
      return semverTest(values, (c) => c >= 0);
  }
}

/**
 * Compiles a rule once per config change. A context without the attribute never matches — not even
 * `not_in` — so a missing attribute can only leave a request where the percentage puts it.
 */
export function compileRule(rule: RuleConfig): RulePredicate {
  const { attribute } = rule;
  const standard = STANDARD_KEYS.has(attribute);
  const match = matcher(rule);
  return (context) => {
    const actual = readAttribute(context, attribute, standard);
    return actual !== undefined && match(actual);
  };
}

export function isStandardKey(key: string): boolean {
  return STANDARD_KEYS.has(key);
}
