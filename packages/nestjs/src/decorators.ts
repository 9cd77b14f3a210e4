import { Canary, type Decision, type RouteShadowOptIn } from '@canary-kit/core';
import { createParamDecorator, type ExecutionContext, Inject, SetMetadata } from '@nestjs/common';
import { CANARY_FLAG_METADATA, CANARY_SHADOW_METADATA, checkFlag, checkShadowTargets } from './metadata.js';
import { rawRequest, requestCanary, stateOf } from './request-state.js';

/** Injects the Canary (the same as injecting by the `Canary` class). */
export const InjectCanary = (): PropertyDecorator & ParameterDecorator => Inject(Canary);

/**
 * Binds a handler (or a controller) to `flag` without guarding it: its requests are labelled with the
 * flag's decision in metrics, and `@CanaryDecision()` without a flag injects that decision.
 */
export function CanaryFlag(flag: string): MethodDecorator & ClassDecorator {
  return SetMetadata(CANARY_FLAG_METADATA, checkFlag(flag, '@CanaryFlag()'));
}

const decisionParam = createParamDecorator(
  (flag: string | undefined, context: ExecutionContext): Decision => {
    const state = stateOf(rawRequest(context.switchToHttp().getRequest<unknown>()));
    if (state === undefined) {
      throw new Error(
        'canary-kit: @CanaryDecision() found no canary-kit state on the request; import CanaryModule',
      );
    }
    const key =
      flag ??
      state.flag ??
      (Reflect.getMetadata(CANARY_FLAG_METADATA, context.getHandler()) as string | undefined) ??
      (Reflect.getMetadata(CANARY_FLAG_METADATA, context.getClass()) as string | undefined);
    if (key === undefined) {
      throw new Error(
        'canary-kit: @CanaryDecision() needs a flag, or a route bound with @CanaryFlag/@CanaryGuard',
      );
    }
    // After an upstream failover the local handler serves the canary request as stable.
    return requestCanary(state).evaluate(key);
  },
);

/**
 * Injects a flag's `Decision` for the request (`{ flag, version, reason, bucket }`), memoized per request.
 * Without a flag, the flag the route is bound to (`@CanaryFlag`, `@CanaryGuard`, custom versioning).
 * After an upstream failover the flag's decision says `stable`: the local handler serves the request as stable.
 */
export function CanaryDecision(flag?: string): ParameterDecorator {
  return decisionParam(flag === undefined ? undefined : checkFlag(flag, '@CanaryDecision()'));
}

export interface CanaryShadowOptions {
  /**
   * Also mirror write methods (POST, PUT, PATCH, DELETE) the target lists in its `methods`. A copy repeats the
   * request's side effects on the shadow service: opt in only where that service can take them (its own
   * database, a sandbox). Default false.
   */
  writes?: boolean;
}

/**
 * Opts a handler (or every handler of a controller) in to shadowing: its requests are mirrored to the named
 * shadow targets (all of them without a name), on top of those chosen by a target's `paths` and `flags`.
 * Write methods need `{ writes: true }` and the method in the target's `methods`.
 *
 * ```ts
 * @Get('search') @CanaryShadow() search() {}
 * @Post('orders') @CanaryShadow('orders-v2', { writes: true }) create() {}
 * ```
 */
export function CanaryShadow(
  targets?: true | string | readonly string[] | CanaryShadowOptions,
  options: CanaryShadowOptions = {},
): MethodDecorator & ClassDecorator {
  let list: unknown = targets;
  let opts: unknown = options;
  if (targets !== null && typeof targets === 'object' && !Array.isArray(targets)) {
    list = undefined;
    opts = targets;
  }
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`canary-kit: @CanaryShadow() options must be an object, got ${JSON.stringify(opts)}`);
  }
  const writes = (opts as CanaryShadowOptions).writes;
  if (writes !== undefined && typeof writes !== 'boolean') {
    throw new TypeError(
      `canary-kit: @CanaryShadow() \`writes\` must be a boolean, got ${JSON.stringify(writes)}`,
    );
  }
  const optIn: RouteShadowOptIn = Object.freeze({
    targets: checkShadowTargets(list, '@CanaryShadow()'),
    writes: writes === true,
  });
  return SetMetadata(CANARY_SHADOW_METADATA, optIn);
}
