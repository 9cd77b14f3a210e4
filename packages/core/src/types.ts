/** Which version serves a request. */
export type Version = 'canary' | 'stable';

/**
 * Why a decision came out the way it did, in evaluation order (see docs/evaluation.md):
 * `unknown-flag`, `disabled`, `rolled-back`, `override`, `excluded`, `user`, `group`, `rule`, `no-identity`,
 * `percentage`; and `error` (stable) if evaluation itself failed, which it is built never to do.
 */
export type Reason =
  | 'unknown-flag'
  | 'disabled'
  | 'rolled-back'
  | 'override'
  | 'excluded'
  | 'user'
  | 'group'
  | 'rule'
  | 'no-identity'
  | 'percentage'
  | 'error';

export const REASONS: readonly Reason[] = [
  'unknown-flag',
  'disabled',
  'rolled-back',
  'override',
  'excluded',
  'user',
  'group',
  'rule',
  'no-identity',
  'percentage',
  'error',
];

export type AttributeValue = string | number | boolean;

/** What a request is evaluated against. Adapters build it with the user's `context(req)` function. */
export interface EvalContext {
  userId?: string;
  sessionId?: string;
  tenantId?: string;
  ip?: string;
  groups?: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
  /**
   * Raw override values as the request carried them (header, then cookie). Adapters fill this in; they are
   * honoured only when `overrides.trust(context)` returns true or the value carries a valid signature.
   */
  overrides?: OverrideInput;
}

export interface OverrideInput {
  header?: string | readonly string[] | undefined;
  cookie?: string | undefined;
}

export interface Decision {
  readonly flag: string;
  readonly version: Version;
  readonly reason: Reason;
  /**
   * The identity's bucket when the percentage decided: 0–9999 with `murmur3` bucketing (canary when
   * `bucket < percentage × 100`), unleash-client's normalized value 1–100 with `unleash` bucketing
   * (canary when `bucket <= percentage`). `null` when something before the percentage decided.
   */
  readonly bucket: number | null;
}
