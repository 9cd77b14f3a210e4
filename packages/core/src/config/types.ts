import type { Registry } from 'prom-client';
import type { NormalizedRecorder, RecorderConfig } from '../recorder/config.js';
import type { CanaryStore } from '../stores/store.js';
import type { AttributeValue, EvalContext } from '../types.js';
import type {
  NormalizedRollout,
  NormalizedRolloutRuntime,
  RolloutConfig,
  RolloutRuntimeConfig,
} from './validate-rollout.js';
import type { NormalizedShadow, ShadowConfig } from './validate-shadow.js';

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
  /**
   * The new service: the canary share of routes bound to this flag is proxied there, failing over to the local
   * stable handler for idempotent requests. A URL, or `{ url, timeoutMs, … }`.
   */
  upstream?: string | UpstreamConfig;
  /** A progressive rollout run by the rollout controller: steps, interval, thresholds (docs/rollout.md). */
  rollout?: RolloutConfig;
  description?: string;
}

export interface UpstreamConfig {
  url: string;
  /** Time to the upstream's response headers. Default 5000 ms. */
  timeoutMs?: number;
  /** Idle time allowed while streaming the response body. Default 30,000 ms. */
  bodyTimeoutMs?: number;
  /** Keep-alive connections. Default 32. */
  connections?: number;
  /** Default `{ failureThreshold: 5, cooldownMs: 10000 }`; `false` turns it off. */
  circuitBreaker?: { failureThreshold?: number; cooldownMs?: number } | false;
  /** Active health check: GET `path` every `intervalMs` (default 5000); non-2xx or no answer marks it down. */
  healthCheck?: { path: string; intervalMs?: number; timeoutMs?: number };
}

export interface NormalizedUpstream {
  readonly url: string;
  readonly timeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly connections: number;
  readonly circuitBreaker: { readonly failureThreshold: number; readonly cooldownMs: number } | false;
  readonly healthCheck:
    | { readonly path: string; readonly intervalMs: number; readonly timeoutMs: number }
    | undefined;
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
  readonly upstream?: NormalizedUpstream;
  readonly rollout?: NormalizedRollout;
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
  /** Mirror live requests to a candidate service and diff its answers with the primary's. One target or a list. */
  shadow?: ShadowConfig | readonly ShadowConfig[];
  /** The rollout controller in this process: analysis source, webhook, leadership. */
  rollout?: RolloutRuntimeConfig;
  /** Record sampled requests, redacted, to a size-rotated JSONL file for replay (docs/recording-format.md). */
  recorder?: RecorderConfig | false;
}

export interface NormalizedConfig {
  readonly flags: FlagsConfig;
  readonly overrides: NormalizedOverrides | undefined;
  readonly store: CanaryStore | undefined;
  readonly metrics:
    | { readonly registry: Registry | undefined; readonly buckets: readonly number[] | undefined }
    | false;
  readonly service: { readonly version: string };
  readonly shadows: readonly NormalizedShadow[];
  readonly rollout: NormalizedRolloutRuntime;
  readonly recorder: NormalizedRecorder | undefined;
}
