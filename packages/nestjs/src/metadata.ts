/** Route metadata: the flag whose decision labels a route's requests (`@CanaryFlag`, `@CanaryGuard`). */
export const CANARY_FLAG_METADATA = 'canary-kit:flag';
/** Route metadata: what `@CanaryGuard` lets through (`{ flag, status }`). */
export const CANARY_GUARD_METADATA = 'canary-kit:guard';
/** Route metadata: the route's shadow opt-in (`@CanaryShadow`), a core `RouteShadowOptIn`. */
export const CANARY_SHADOW_METADATA = 'canary-kit:shadow';

/** Nest's own metadata keys (`@nestjs/common/constants`), the same in Nest 11 and 12. */
export const NEST_VERSION_METADATA = '__version__';
export const NEST_PATH_METADATA = 'path';

export interface CanaryGuardMetadata {
  readonly flag: string;
  readonly status: number | undefined;
}

/** The versions the custom-versioning extractor returns, and controllers declare. */
export const CANARY_VERSION = 'canary';
export const STABLE_VERSION = 'stable';

export function checkFlag(flag: unknown, where: string): string {
  if (typeof flag !== 'string' || flag === '') {
    throw new TypeError(
      `canary-kit: ${where} needs a flag key (a non-empty string), got ${JSON.stringify(flag)}`,
    );
  }
  return flag;
}

export function checkStatus(status: unknown, where: string): number | undefined {
  if (status === undefined) return undefined;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
    throw new TypeError(
      `canary-kit: ${where} must be an HTTP error status (400–599), got ${JSON.stringify(status)}`,
    );
  }
  return status;
}

/** `@CanaryShadow()`'s targets: one name, several, or `true` for every target. */
export function checkShadowTargets(targets: unknown, where: string): true | readonly string[] {
  if (targets === undefined || targets === true) return true;
  const list = typeof targets === 'string' ? [targets] : targets;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((name) => typeof name !== 'string' || name === '')
  ) {
    throw new TypeError(
      `canary-kit: ${where} takes a target name, a non-empty list of names or true, got ${JSON.stringify(targets)}`,
    );
  }
  return Object.freeze([...(list as string[])]);
}
