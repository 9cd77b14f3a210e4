import type { OverrideValue } from '../overrides/parse.js';
import type { Decision, EvalContext } from '../types.js';
import type { CompiledFlag, StickinessKey } from './compile.js';
import { murmur3BucketResume } from './murmur3.js';
import { unleashNormalizedValue } from './unleash-hash.js';

/** The stickiness identity: the first key whose value is a non-empty string or a finite number. */
export function identityOf(flag: CompiledFlag, context: EvalContext): string | undefined {
  return identityFrom(flag.stickiness, context);
}

/** The identity `keys` find in `context` (also asked by adapters: does a session id need issuing?). */
export function identityFrom(keys: readonly StickinessKey[], context: EvalContext): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    const { key, standard } = keys[i]!;
    let value: unknown;
    if (standard) value = (context as Record<string, unknown>)[key];
    else {
      const attributes = context.attributes;
      value =
        attributes !== null && typeof attributes === 'object' && Object.hasOwn(attributes, key)
          ? attributes[key]
          : undefined;
    }
    if (typeof value === 'string') {
      if (value.length > 0) return value;
    } else if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

/** The bucket of an identity under the flag's bucketing (see Decision.bucket). */
export function bucketOf(flag: CompiledFlag, identity: string): number {
  return flag.unleash
    ? unleashNormalizedValue(flag.seed, identity)
    : murmur3BucketResume(flag.prefix, identity);
}

/**
 * The evaluation order, documented in docs/evaluation.md: kill switch, rollback, override, exclusion,
 * users, groups, rules, identity, percentage. `context` must be an object (the caller guarantees it).
 */
export function evaluateFlag(
  flag: CompiledFlag,
  context: EvalContext,
  override: OverrideValue | undefined,
): Decision {
  const fixed = flag.fixed;
  if (!flag.enabled) return fixed.disabled;
  if (flag.rolledBack) return fixed['rolled-back'];
  if (override !== undefined) return override === 'always' ? fixed.overrideCanary : fixed.overrideStable;

  const userId = context.userId;
  if (typeof userId === 'string') {
    if (flag.excludeUsers !== null && flag.excludeUsers.has(userId)) return fixed.excluded;
    if (flag.users !== null && flag.users.has(userId)) return fixed.user;
  }
  if (flag.groups !== null) {
    const groups = context.groups;
    if (Array.isArray(groups)) {
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i];
        if (typeof g === 'string' && flag.groups.has(g)) return fixed.group;
      }
    }
  }
  if (flag.rules !== null) {
    const rules = flag.rules;
    for (let i = 0; i < rules.length; i++) if (rules[i]!(context)) return fixed.rule;
  }

  const identity = identityOf(flag, context);
  if (identity === undefined) return fixed['no-identity'];
  const bucket = bucketOf(flag, identity);
  const canary = flag.unleash ? bucket <= flag.threshold : bucket < flag.threshold;
  return { flag: flag.key, version: canary ? 'canary' : 'stable', reason: 'percentage', bucket };
}
