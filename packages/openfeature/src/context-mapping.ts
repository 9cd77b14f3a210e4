import type { AttributeValue, EvalContext } from '@canary-kit/core';
import type { EvaluationContext } from '@openfeature/server-sdk';

/** EvalContext keys canary-kit reads from the context itself rather than from `attributes`. */
const IDENTITY_KEYS = ['userId', 'sessionId', 'tenantId', 'ip'] as const;
/** The context key carrying a raw override value (what the `x-canary` header would carry). */
export const OVERRIDE_KEY = 'canaryOverride';
/** Past this many entries a group list is cut: a context is caller data, and evaluation stays bounded. */
export const MAX_GROUPS = 1_000;

/** Where the Canary reads overrides from (`canary.overrideSources`); undefined when overrides are off. */
export type OverrideSources =
  | { readonly header: string | false; readonly cookie: string | false }
  | undefined;

/** A string for an identity key: non-empty strings as they are, finite numbers as their decimal string. */
function identityValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** An attribute value canary-kit's rules can compare, or undefined for what they can't (objects, null, NaN). */
function attributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  // A Date compares as its ISO string (starts_with '2026-', semver and numbers don't apply).
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return undefined;
}

function groupsOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.length > 0 ? [value] : undefined;
  if (!Array.isArray(value)) return undefined;
  const groups: string[] = [];
  const n = Math.min(value.length, MAX_GROUPS);
  for (let i = 0; i < n; i++) {
    const g = value[i];
    if (typeof g === 'string') groups.push(g);
  }
  return groups;
}

/**
 * Maps an OpenFeature evaluation context to canary-kit's (the table in docs/openfeature.md):
 * `userId` (else `targetingKey`) → userId; `sessionId`, `tenantId`, `ip` → themselves; `groups` (a string or a
 * string list) → groups; `canaryOverride` → the override value, read like the override header; every other key
 * with a string, finite number, boolean or Date value → `attributes` (so rules and stickiness can name it,
 * `targetingKey` included). Never throws: the context is caller data and may hold anything.
 */
export function toEvalContext(
  context: EvaluationContext | undefined,
  overrides: OverrideSources,
): EvalContext {
  if (context === null || typeof context !== 'object') return {};
  const result: {
    -readonly [K in keyof EvalContext]: EvalContext[K];
  } = {};
  const attributes: Record<string, AttributeValue> = {};
  let hasAttributes = false;
  for (const key of Object.keys(context)) {
    let value: unknown;
    try {
      value = context[key];
    } catch {
      continue; // a throwing getter: the key is skipped, the evaluation goes on
    }
    if (key === 'groups') {
      const groups = groupsOf(value);
      if (groups !== undefined) result.groups = groups;
      continue;
    }
    if (key === OVERRIDE_KEY) {
      if (typeof value === 'string' && overrides !== undefined) {
        // Read as the header would be, or as the cookie when the Canary ignores headers.
        if (overrides.header !== false) result.overrides = { header: value };
        else if (overrides.cookie !== false) result.overrides = { cookie: value };
      }
      continue;
    }
    if ((IDENTITY_KEYS as readonly string[]).includes(key)) {
      const id = identityValue(value);
      if (id !== undefined) result[key as (typeof IDENTITY_KEYS)[number]] = id;
      continue;
    }
    const attribute = attributeValue(value);
    if (attribute !== undefined) {
      attributes[key] = attribute;
      hasAttributes = true;
    }
  }
  if (result.userId === undefined) {
    const targetingKey = identityValue(context.targetingKey);
    if (targetingKey !== undefined) result.userId = targetingKey;
  }
  if (hasAttributes) result.attributes = attributes;
  return result;
}
