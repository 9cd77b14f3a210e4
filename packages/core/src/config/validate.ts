import { parseSemver } from '../evaluation/semver.js';
import { validateRecorder } from '../recorder/config.js';
import type { CanaryStore } from '../stores/store.js';
import { CanaryConfigError, type ConfigIssue } from './errors.js';
import { childPath } from './path.js';
import {
  type Bucketing,
  type FlagConfig,
  type FlagsConfig,
  type NormalizedConfig,
  type NormalizedOverrides,
  RULE_OPERATORS,
  type RuleConfig,
  type RuleOperator,
} from './types.js';
import {
  describe,
  isPlainObject,
  MAX_LIST,
  stringList,
  unknownKeys,
  validatePercentage,
} from './validate-helpers.js';
import { validateRollout, validateRolloutRuntime } from './validate-rollout.js';
import { validateShadows, validateUpstream } from './validate-shadow.js';

export { isPlainObject, validatePercentage };

/**
 * The one schema for canary-kit's config, written as plain checks so every problem is reported with its
 * path and rule in one pass, and so any JSON value at all yields either a config or a CanaryConfigError.
 */

type Issues = ConfigIssue[];

const FLAG_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;
/** Reserved because they carry the expiry and signature of a signed override. */
const RESERVED_FLAG_KEYS = new Set(['exp', 'sig']);
const NUMERIC_OPERATORS = new Set<RuleOperator>(['lt', 'lte', 'gt', 'gte']);

const RULE_KEYS = new Set(['attribute', 'operator', 'values']);

function validateRule(value: unknown, path: string, issues: Issues): RuleConfig | undefined {
  if (!isPlainObject(value)) {
    issues.push({
      path,
      message: `must be an object { attribute, operator, values }, got ${describe(value)}`,
    });
    return undefined;
  }
  unknownKeys(value, RULE_KEYS, path, issues);
  const before = issues.length;
  const { attribute, operator, values } = value;
  if (typeof attribute !== 'string' || attribute.length === 0) {
    issues.push({ path: childPath(path, 'attribute'), message: 'must be a non-empty string' });
  }
  if (typeof operator !== 'string' || !(RULE_OPERATORS as readonly string[]).includes(operator)) {
    issues.push({
      path: childPath(path, 'operator'),
      message: `must be one of ${RULE_OPERATORS.join(', ')}`,
    });
  }
  const valuesPath = childPath(path, 'values');
  if (!Array.isArray(values) || values.length === 0) {
    issues.push({ path: valuesPath, message: 'must be a non-empty array' });
  } else if (values.length > MAX_LIST) {
    issues.push({ path: valuesPath, message: `must have at most ${MAX_LIST} entries` });
  } else {
    const op = typeof operator === 'string' ? operator : '';
    // An index loop, not forEach: holes in a sparse array are reported, not skipped.
    for (let i = 0; i < values.length; i++) {
      const v: unknown = values[i];
      const p = childPath(valuesPath, i);
      if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
        issues.push({
          path: p,
          message: `must be a string, a finite number or a boolean, got ${describe(v)}`,
        });
      } else if (NUMERIC_OPERATORS.has(op as RuleOperator) && typeof v !== 'number') {
        issues.push({ path: p, message: `operator ${op} compares numbers: must be a number` });
      } else if (op.startsWith('semver_') && (typeof v !== 'string' || !parseSemver(v))) {
        issues.push({ path: p, message: `operator ${op} needs a semantic version such as "2.1.0"` });
      }
    }
  }
  if (issues.length > before) return undefined;
  return {
    attribute: attribute as string,
    operator: operator as RuleOperator,
    values: (values as unknown[]).slice() as RuleConfig['values'],
  };
}

const FLAG_KEYS = new Set([
  'percentage',
  'enabled',
  'stickiness',
  'users',
  'excludeUsers',
  'groups',
  'rules',
  'seed',
  'bucketing',
  'upstream',
  'rollout',
  'description',
]);

export function validateFlag(
  key: string,
  value: unknown,
  path: string,
  issues: Issues,
): FlagConfig | undefined {
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  unknownKeys(value, FLAG_KEYS, path, issues);
  const at = (k: string) => childPath(path, k);

  const percentage =
    value.percentage === undefined ? 0 : validatePercentage(value.percentage, at('percentage'), issues);

  let enabled = true;
  if (value.enabled !== undefined) {
    if (typeof value.enabled !== 'boolean')
      issues.push({ path: at('enabled'), message: 'must be a boolean' });
    else enabled = value.enabled;
  }

  let stickiness: string[] = ['userId'];
  if (value.stickiness !== undefined) {
    stickiness =
      typeof value.stickiness === 'string'
        ? [value.stickiness]
        : stringList(value.stickiness, at('stickiness'), issues, { nonEmpty: true });
    if (typeof value.stickiness === 'string' && value.stickiness.length === 0) {
      issues.push({ path: at('stickiness'), message: 'must be a context key such as "userId"' });
    }
  }

  const users = value.users === undefined ? [] : stringList(value.users, at('users'), issues);
  const excludeUsers =
    value.excludeUsers === undefined ? [] : stringList(value.excludeUsers, at('excludeUsers'), issues);
  const groups = value.groups === undefined ? [] : stringList(value.groups, at('groups'), issues);

  const rules: RuleConfig[] = [];
  if (value.rules !== undefined) {
    if (!Array.isArray(value.rules))
      issues.push({ path: at('rules'), message: `must be an array, got ${describe(value.rules)}` });
    else {
      value.rules.forEach((r, i) => {
        const rule = validateRule(r, childPath(at('rules'), i), issues);
        if (rule) rules.push(rule);
      });
    }
  }

  let seed = key;
  if (value.seed !== undefined) {
    if (typeof value.seed !== 'string' || value.seed.length === 0)
      issues.push({ path: at('seed'), message: 'must be a non-empty string' });
    else seed = value.seed;
  }

  let bucketing: Bucketing = 'murmur3';
  if (value.bucketing !== undefined) {
    if (value.bucketing !== 'murmur3' && value.bucketing !== 'unleash') {
      issues.push({ path: at('bucketing'), message: 'must be "murmur3" or "unleash"' });
    } else bucketing = value.bucketing;
  }

  const upstream =
    value.upstream === undefined ? undefined : validateUpstream(value.upstream, at('upstream'), issues);

  const rollout =
    value.rollout === undefined ? undefined : validateRollout(value.rollout, at('rollout'), issues);

  let description: string | undefined;
  if (value.description !== undefined) {
    if (typeof value.description !== 'string')
      issues.push({ path: at('description'), message: 'must be a string' });
    else description = value.description;
  }

  if (issues.length > before) return undefined;
  const flag: FlagConfig = {
    percentage,
    enabled,
    stickiness,
    users,
    excludeUsers,
    groups,
    rules,
    seed,
    bucketing,
  };
  // Optional keys only when set, so a flag's JSON (compared to detect changes, saved in stores) stays minimal.
  return {
    ...flag,
    ...(upstream && { upstream }),
    ...(rollout && { rollout }),
    ...(description !== undefined && { description }),
  };
}

/** Validates the `flags` map; collects issues instead of throwing. */
export function validateFlags(value: unknown, path: string, issues: Issues): FlagsConfig {
  const flags: Record<string, FlagConfig> = Object.create(null);
  if (value === undefined) return flags;
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object mapping flag keys to flags, got ${describe(value)}` });
    return flags;
  }
  for (const [key, flagValue] of Object.entries(value)) {
    const flagPath = childPath(path, key);
    if (!FLAG_KEY.test(key) || RESERVED_FLAG_KEYS.has(key)) {
      issues.push({
        path: flagPath,
        message: RESERVED_FLAG_KEYS.has(key)
          ? `"${key}" is reserved for signed overrides`
          : 'flag key must be 1–128 characters of letters, digits and _ . : / -, starting with a letter, digit or _',
      });
      continue;
    }
    const flag = validateFlag(key, flagValue, flagPath, issues);
    if (flag) flags[key] = flag;
  }
  return flags;
}

/** Parses a `flags` map (from a store, a file or `replaceConfig`), throwing CanaryConfigError on any issue. */
export function parseFlags(value: unknown, path = 'flags'): FlagsConfig {
  const issues: Issues = [];
  const flags = validateFlags(value, path, issues);
  if (issues.length > 0) throw new CanaryConfigError(issues);
  return flags;
}

const OVERRIDE_KEYS = new Set(['header', 'cookie', 'trust', 'secret']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function validateOverrides(value: unknown, issues: Issues): NormalizedOverrides | undefined {
  if (value === undefined) return undefined;
  const path = 'overrides';
  if (!isPlainObject(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return undefined;
  }
  unknownKeys(value, OVERRIDE_KEYS, path, issues);
  const nameOf = (k: 'header' | 'cookie', fallback: string): string | false => {
    const v = value[k];
    if (v === undefined) return fallback;
    if (v === false) return false;
    if (typeof v !== 'string' || !TOKEN.test(v)) {
      issues.push({ path: childPath(path, k), message: `must be a ${k} name or false` });
      return false;
    }
    return k === 'header' ? v.toLowerCase() : v;
  };
  const header = nameOf('header', 'x-canary');
  const cookie = nameOf('cookie', 'canary');
  let trust: NormalizedOverrides['trust'];
  if (value.trust !== undefined) {
    if (typeof value.trust !== 'function')
      issues.push({ path: childPath(path, 'trust'), message: 'must be a function (context) => boolean' });
    else trust = value.trust as NormalizedOverrides['trust'];
  }
  let secrets: string[] = [];
  if (value.secret !== undefined) {
    const list =
      typeof value.secret === 'string'
        ? [value.secret]
        : stringList(value.secret, childPath(path, 'secret'), issues, { nonEmpty: true });
    list.forEach((s, i) => {
      if (s.length < 16) {
        const p =
          typeof value.secret === 'string'
            ? childPath(path, 'secret')
            : childPath(childPath(path, 'secret'), i);
        issues.push({ path: p, message: 'must be at least 16 characters' });
      }
    });
    secrets = list;
  }
  if (!trust && secrets.length === 0) {
    issues.push({
      path,
      message: 'needs `trust` or `secret`: an override nobody may send would never be honoured',
    });
  }
  return { header, cookie, trust, secrets };
}

function validateStore(value: unknown, issues: Issues): CanaryStore | undefined {
  if (value === undefined) return undefined;
  const ok =
    value !== null &&
    typeof value === 'object' &&
    ['load', 'save', 'subscribe', 'close'].every(
      (m) => typeof (value as Record<string, unknown>)[m] === 'function',
    );
  if (!ok) {
    issues.push({
      path: 'store',
      message: 'must implement the store interface: load, save, subscribe and close',
    });
    return undefined;
  }
  return value as CanaryStore;
}

const METRICS_KEYS = new Set(['registry', 'buckets']);

function validateMetrics(value: unknown, issues: Issues): NormalizedConfig['metrics'] {
  if (value === false) return false;
  if (value === undefined) return { registry: undefined, buckets: undefined };
  if (!isPlainObject(value)) {
    issues.push({
      path: 'metrics',
      message: `must be an object { registry, buckets } or false, got ${describe(value)}`,
    });
    return false;
  }
  unknownKeys(value, METRICS_KEYS, 'metrics', issues);
  const { registry, buckets } = value;
  const isRegistry =
    registry !== null &&
    typeof registry === 'object' &&
    typeof (registry as Record<string, unknown>).registerMetric === 'function' &&
    typeof (registry as Record<string, unknown>).metrics === 'function';
  if (registry !== undefined && !isRegistry)
    issues.push({ path: 'metrics.registry', message: 'must be a prom-client Registry' });
  if (buckets !== undefined) {
    const ok =
      Array.isArray(buckets) &&
      buckets.length > 0 &&
      buckets.every(
        (b, i) =>
          typeof b === 'number' && Number.isFinite(b) && b > 0 && (i === 0 || b > (buckets[i - 1] as number)),
      );
    if (!ok)
      issues.push({
        path: 'metrics.buckets',
        message: 'must be a non-empty array of increasing positive numbers',
      });
  }
  return { registry: registry as never, buckets: buckets as number[] | undefined };
}

function validateService(value: unknown, issues: Issues): NormalizedConfig['service'] {
  if (value === undefined) return { version: 'stable' };
  if (!isPlainObject(value)) {
    issues.push({ path: 'service', message: `must be an object { version }, got ${describe(value)}` });
    return { version: 'stable' };
  }
  unknownKeys(value, new Set(['version']), 'service', issues);
  if (value.version === undefined) return { version: 'stable' };
  if (typeof value.version !== 'string' || !/^[\w.:-]{1,64}$/.test(value.version)) {
    issues.push({
      path: 'service.version',
      message: 'must be 1–64 characters of letters, digits and _ . : - (e.g. "stable" or "canary")',
    });
    return { version: 'stable' };
  }
  return { version: value.version };
}

const TOP_KEYS = new Set([
  'flags',
  'overrides',
  'store',
  'metrics',
  'service',
  'shadow',
  'rollout',
  'recorder',
]);

/** Validates a whole config. Throws CanaryConfigError listing every issue, and nothing else, for any input. */
export function parseConfig(input: unknown): NormalizedConfig {
  const issues: Issues = [];
  if (input === undefined) {
    return {
      flags: Object.create(null),
      overrides: undefined,
      store: undefined,
      metrics: { registry: undefined, buckets: undefined },
      service: { version: 'stable' },
      shadows: [],
      rollout: validateRolloutRuntime(undefined, []),
      recorder: undefined,
    };
  }
  if (!isPlainObject(input)) {
    throw new CanaryConfigError([{ path: '', message: `config must be an object, got ${describe(input)}` }]);
  }
  unknownKeys(input, TOP_KEYS, '', issues);
  const flags = validateFlags(input.flags, 'flags', issues);
  const overrides = validateOverrides(input.overrides, issues);
  const store = validateStore(input.store, issues);
  const metrics = validateMetrics(input.metrics, issues);
  const service = validateService(input.service, issues);
  const shadows = validateShadows(input.shadow, issues);
  const rollout = validateRolloutRuntime(input.rollout, issues);
  const recorder = validateRecorder(input.recorder, issues);
  if (issues.length > 0) throw new CanaryConfigError(issues);
  return { flags, overrides, store, metrics, service, shadows, rollout, recorder };
}
