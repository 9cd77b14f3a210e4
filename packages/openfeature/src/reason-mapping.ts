import type { Reason } from '@canary-kit/core';
import { type ResolutionReason, StandardResolutionReasons } from '@openfeature/server-sdk';

/**
 * canary-kit's reasons as OpenFeature's standard resolution reasons (the table in docs/openfeature.md).
 * A `Record` over every `Reason`, so a reason added to core fails the type check here until it is mapped.
 * `percentage` is `SPLIT`, except at 0 % where nobody is split off (see `resolutionReason`).
 */
export const REASON_MAP: Readonly<Record<Reason, ResolutionReason>> = {
  'unknown-flag': StandardResolutionReasons.ERROR,
  disabled: StandardResolutionReasons.DISABLED,
  'rolled-back': StandardResolutionReasons.DISABLED,
  override: StandardResolutionReasons.TARGETING_MATCH,
  excluded: StandardResolutionReasons.TARGETING_MATCH,
  user: StandardResolutionReasons.TARGETING_MATCH,
  group: StandardResolutionReasons.TARGETING_MATCH,
  rule: StandardResolutionReasons.TARGETING_MATCH,
  'no-identity': StandardResolutionReasons.DEFAULT,
  percentage: StandardResolutionReasons.SPLIT,
  error: StandardResolutionReasons.ERROR,
};

/** The OpenFeature reason of a decision; `percentage` of the flag's current percentage (undefined if unknown). */
export function resolutionReason(reason: Reason, percentage: number | undefined): ResolutionReason {
  if (reason === 'percentage' && percentage === 0) return StandardResolutionReasons.DEFAULT;
  return REASON_MAP[reason] ?? StandardResolutionReasons.UNKNOWN;
}
