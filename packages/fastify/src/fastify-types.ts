import type { RequestCanary } from '@canary-kit/core';
import type { CanaryRouteConfig } from './route-binding.js';

// Declaration merging: once `@canary-kit/fastify` is imported anywhere in a program, `request.canary` and a
// route's `config.canary` are typed in every handler and hook.
declare module 'fastify' {
  interface FastifyRequest {
    /**
     * This request's decisions, memoized per request (`evaluate(flag)` / `isCanary(flag)`). Set by
     * canary-kit's `onRequest` hook, so it is `null` only in hooks that run before it.
     */
    canary: RequestCanary;
  }

  interface FastifyContextConfig {
    /** Binds the route to a canary-kit flag: `config: { canary: { flag: 'checkout-v2' } }`. */
    canary?: CanaryRouteConfig;
  }
}
