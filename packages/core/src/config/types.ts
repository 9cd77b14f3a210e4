import type { Registry } from 'prom-client';
import type { CanaryStore } from '../stores/store.js';
import type { AttributeValue, EvalContext } from '../types.js';

export const RULE_OPERATORS = [
  'in',
  'not_in',
  'eq',
  'neq',
  'starts_with',
  'ends_with',
  'contains',
  'lt',
  'lte',
  'gt',
  'gte',
  'semver_eq',
  'semver_lt',
  'semver_lte',
  'semver_gt',
  'semver_gte',
] as const;

export type RuleOperator = (typeof RULE_OPERATORS)[number];

/** Targets the canary when the context's `attribute` satisfies `operator` against any of `values`. */
export interface RuleConfig {
  /** `userId`, `sessionId`, `tenantId`, `ip`, or the name of a key in `context.attributes`. */
  attribute: string;
  operator: RuleOperator;
  values: readonly AttributeValue[];
}

export type Bucketing = 'murmur3' | 'unleash';

/** A flag as written in a config file or passed to `createCanary`. */
export interface FlagConfigInput {
  /** Share of identities on the canary, 0–100 in steps of 0.01. Default 0. */
  percentage?: number;
  /** Kill switch: `false` serves stable to everyone, overrides included. Default true. */
  enabled?: boolean;
  /** Context key (or fallback list of keys) whose value is bucketed. Default `userId`. */
  stickiness?: string | readonly string[];
  /** User ids always on the canary. */
  users?: readonly string[];
  /** User ids always on stable; checked before every other targeting. */
  excludeUsers?: readonly string[];
  /** Context groups always on the canary. */
  groups?: readonly string[];
  /** Attribute rules; any matching rule puts the request on the canary. */
  rules?: readonly RuleConfig[];
  /** Hash seed. Default: the flag key. Two flags with one seed split identically. */
  seed?: string;
  /** `murmur3` (default, the published algorithm) or `unleash` (unleash-client's assignments). */
  bucketing?: Bucketing;
  description?: string;
}

/** A flag after validation, every default filled in. */
export interface FlagConfig {
  readonly percentage: number;
  readonly enabled: boolean;
  readonly stickiness: readonly string[];
  readonly users: readonly string[];
  readonly excludeUsers: readonly string[];
  readonly groups: readonly string[];
  readonly rules: readonly RuleConfig[];
  readonly seed: string;
  readonly bucketing: Bucketing;
  readonly description?: string;
}

export type FlagsConfigInput = Readonly<Record<string, FlagConfigInput>>;
export type FlagsConfig = Readonly<Record<string, FlagConfig>>;

export interface OverridesConfig {
  /** Request header carrying overrides; `false` ignores headers. Default `x-canary`. */
  header?: string | false;
  /** Cookie carrying overrides; `false` ignores cookies. Default `canary`. */
  cookie?: string | false;
  /** Unsigned overrides are honoured when this returns true for the request's context. */
  trust?: (context: EvalContext) => boolean;
  /** HMAC-SHA256 key(s) for signed overrides; the first signs, all verify (rotation). 16+ characters. */
  secret?: string | readonly string[];
}

export interface NormalizedOverrides {
  readonly header: string | false;
  readonly cookie: string | false;
  readonly trust: ((context: EvalContext) => boolean) | undefined;
  readonly secrets: readonly string[];
}

export interface MetricsConfig {
  /** The prom-client Registry to register on. Default: a new Registry (never the global one). */
  registry?: Registry;
  /** Buckets of `http_request_duration_seconds`. Default prom-client's: 5 ms … 10 s. */
  buckets?: readonly number[];
}

export interface ServiceConfig {
  /**
   * The `version` label of requests on routes bound to no flag. Default `stable`; a whole canary
   * deployment sets `canary`, as in Kubernetes-style canaries.
   */
  version?: string;
}

export interface CanaryConfig {
  flags?: FlagsConfigInput;
  /** Header and cookie overrides. Off unless configured with `trust` or `secret`. */
  overrides?: OverridesConfig;
  /** Where flags and rollout state live. Default: an in-memory store. */
  store?: CanaryStore;
  /** Per-version Prometheus metrics; `false` turns them off. */
  metrics?: MetricsConfig | false;
  service?: ServiceConfig;
}

export interface NormalizedConfig {
  readonly flags: FlagsConfig;
  readonly overrides: NormalizedOverrides | undefined;
  readonly store: CanaryStore | undefined;
  readonly metrics:
    | { readonly registry: Registry | undefined; readonly buckets: readonly number[] | undefined }
    | false;
  readonly service: { readonly version: string };
}
