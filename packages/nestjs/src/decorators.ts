import { Canary, type Decision } from '@canary-kit/core';
import { createParamDecorator, type ExecutionContext, Inject, SetMetadata } from '@nestjs/common';
import { CANARY_FLAG_METADATA, checkFlag } from './metadata.js';
import { rawRequest, stateOf } from './request-state.js';

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
    return state.core.canary.evaluate(key);
  },
);

/**
 * Injects a flag's `Decision` for the request (`{ flag, version, reason, bucket }`), memoized per request.
 * Without a flag, the flag the route is bound to (`@CanaryFlag`, `@CanaryGuard`, custom versioning).
 */
export function CanaryDecision(flag?: string): ParameterDecorator {
  return decisionParam(flag === undefined ? undefined : checkFlag(flag, '@CanaryDecision()'));
}
