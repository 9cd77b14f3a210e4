import type { FlagConfig } from '../config/types.js';
import type { Decision, Reason, Version } from '../types.js';
import { type Murmur3State, murmur3Prefix } from './murmur3.js';
import { compileRule, isStandardKey, type RulePredicate } from './rules.js';

/** One stickiness key, resolved once: read from the context itself or from `context.attributes`. */
export interface StickinessKey {
  readonly key: string;
  readonly standard: boolean;
}

/**
 * A flag prepared for the request path: sets instead of arrays, rules as predicates, the hash state of
 * `seed:` precomputed, and every decision that carries no bucket allocated once and frozen.
 */
export interface CompiledFlag {
  readonly key: string;
  readonly config: FlagConfig;
  readonly enabled: boolean;
  readonly rolledBack: boolean;
  readonly users: ReadonlySet<string> | null;
  readonly excludeUsers: ReadonlySet<string> | null;
  readonly groups: ReadonlySet<string> | null;
  readonly rules: readonly RulePredicate[] | null;
  readonly stickiness: readonly StickinessKey[];
  readonly unleash: boolean;
  /** murmur3: canary when `bucket < threshold` (percentage × 100). unleash: canary when `bucket <= threshold`. */
  readonly threshold: number;
  readonly prefix: Murmur3State;
  readonly seed: string;
  /** What `canary_kit_flag_percentage` reports: 0 while disabled or rolled back. */
  readonly effectivePercentage: number;
  /** Decision counters, owned by the Canary and kept across recompiles (see REASON_SLOT in canary.ts). */
  readonly counts: Float64Array;
  readonly fixed: Readonly<Record<Exclude<Reason, 'percentage' | 'override'>, Decision>> & {
    readonly overrideCanary: Decision;
    readonly overrideStable: Decision;
  };
}

function fixedDecision(flag: string, version: Version, reason: Reason): Decision {
  return Object.freeze({ flag, version, reason, bucket: null });
}

const setOrNull = (list: readonly string[]): ReadonlySet<string> | null =>
  list.length > 0 ? new Set(list) : null;

export function compileFlag(
  key: string,
  config: FlagConfig,
  rolledBack: boolean,
  counts: Float64Array,
): CompiledFlag {
  const unleash = config.bucketing === 'unleash';
  return {
    key,
    config,
    enabled: config.enabled,
    rolledBack,
    users: setOrNull(config.users),
    excludeUsers: setOrNull(config.excludeUsers),
    groups: setOrNull(config.groups),
    rules: config.rules.length > 0 ? config.rules.map(compileRule) : null,
    stickiness: config.stickiness.map((k) => ({ key: k, standard: isStandardKey(k) })),
    unleash,
    threshold: unleash ? config.percentage : Math.round(config.percentage * 100),
    prefix: murmur3Prefix(`${config.seed}:`),
    seed: config.seed,
    effectivePercentage: config.enabled && !rolledBack ? config.percentage : 0,
    counts,
    fixed: {
      'unknown-flag': fixedDecision(key, 'stable', 'unknown-flag'),
      disabled: fixedDecision(key, 'stable', 'disabled'),
      'rolled-back': fixedDecision(key, 'stable', 'rolled-back'),
      excluded: fixedDecision(key, 'stable', 'excluded'),
      user: fixedDecision(key, 'canary', 'user'),
      group: fixedDecision(key, 'canary', 'group'),
      rule: fixedDecision(key, 'canary', 'rule'),
      'no-identity': fixedDecision(key, 'stable', 'no-identity'),
      error: fixedDecision(key, 'stable', 'error'),
      overrideCanary: fixedDecision(key, 'canary', 'override'),
      overrideStable: fixedDecision(key, 'stable', 'override'),
    },
  };
}

/** Decisions for flags the config does not know, one frozen object per key. */
export function unknownFlagDecision(flag: string): Decision {
  return fixedDecision(flag, 'stable', 'unknown-flag');
}
