import type { AttributeValue, EvalContext, OverrideInput } from '@canary-kit/core';
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

function stringOrStrings(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length <= MAX_GROUPS && value.every((v) => typeof v === 'string'))
    return value as string[];
  return undefined;
}

/**
 * `canaryOverride` as canary-kit's override input: a string is read as the override header would be (or as the
 * cookie when the Canary ignores headers); `{ header, cookie }` is both, the header winning as in the adapters.
 * Nothing when the Canary has overrides off: no value could be honoured.
 */
function overrideInput(value: unknown, overrides: OverrideSources): OverrideInput | undefined {
  if (overrides === undefined) return undefined;
  if (typeof value === 'string')
    return overrides.header !== false
      ? { header: value }
      : overrides.cookie !== false
        ? { cookie: value }
        : undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { header, cookie } = value as { header?: unknown; cookie?: unknown };
  const input: { header?: string | string[]; cookie?: string } = {};
  const h = stringOrStrings(header);
  if (h !== undefined) input.header = h;
  if (typeof cookie === 'string') input.cookie = cookie;
  return h !== undefined || input.cookie !== undefined ? input : undefined;
}

/**
 * Maps an OpenFeature evaluation context to canary-kit's (the table in docs/openfeature.md):
 * `userId` (else `targetingKey`) → userId; `sessionId`, `tenantId`, `ip` → themselves; `groups` (a string or a
 * string list) → groups; `canaryOverride` → the override value (a string read like the override header, or
 * `{ header, cookie }`); every other key
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
      const input = overrideInput(value, overrides);
      if (input !== undefined) result.overrides = input;
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

/** Context keys with a meaning of their own here: an attribute so named cannot travel through OpenFeature. */
const RESERVED_KEYS = new Set<string>(['targetingKey', 'groups', OVERRIDE_KEY, ...IDENTITY_KEYS]);

/**
 * The inverse mapping, for apps that already build canary-kit contexts (CanaryModule's `context(req)`, the
 * adapters' `req.canary.context`): an OpenFeature context that `toEvalContext` maps back to the same decision,
 * the sticky anonymous id and the raw override values included. `userId` becomes `targetingKey` (and `userId`);
 * attributes become top-level keys, except those named like the keys above, which are dropped.
 */
export function toOpenFeatureContext(context: EvalContext | null | undefined): EvaluationContext {
  const result: EvaluationContext = {};
  if (context === null || typeof context !== 'object') return result;
  const attributes = context.attributes;
  if (attributes !== null && typeof attributes === 'object') {
    for (const key of Object.keys(attributes)) {
      const value = attributeValue(attributes[key]);
      if (value !== undefined && !RESERVED_KEYS.has(key)) result[key] = value;
    }
  }
  for (const key of IDENTITY_KEYS) {
    const value = identityValue(context[key]);
    if (value !== undefined) result[key] = value;
  }
  if (typeof result.userId === 'string') result.targetingKey = result.userId;
  const groups = groupsOf(context.groups);
  if (groups !== undefined) result.groups = groups;
  const input = context.overrides;
  if (input !== null && typeof input === 'object') {
    const header = stringOrStrings(input.header);
    const cookie = typeof input.cookie === 'string' ? input.cookie : undefined;
    if (header !== undefined && cookie === undefined && typeof header === 'string')
      result[OVERRIDE_KEY] = header;
    else if (header !== undefined || cookie !== undefined) {
      const value: Record<string, string | string[]> = {};
      if (header !== undefined) value.header = header;
      if (cookie !== undefined) value.cookie = cookie;
      result[OVERRIDE_KEY] = value;
    }
  }
  return result;
}
