import type { RequestBinding, RequestState } from '@canary-kit/core';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { kRoute, kState, type SlottedRequest } from './request-slots.js';
import { routeBindingOf } from './route-binding.js';

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

export interface RequestHooks {
  readonly onRequest: Hook;
  readonly onResponse: Hook;
}

/**
 * The per-request lifecycle, built once per plugin registration so no closure is created per request.
 * `onRequest` is where a request starts (context, decisions, sticky cookie, route binding); `onResponse`
 * where it ends (metrics). Raw body capture (preParsing) and response capture (onSend) slot in beside them.
 * Callback-style hooks: cheaper than async ones on Fastify's hot path.
 */
export function createRequestHooks(binding: RequestBinding<FastifyRequest>): RequestHooks {
  let reportedFinishError = false;

  function start(request: FastifyRequest): RequestState {
    try {
      // `protocol` honours X-Forwarded-Proto only when Fastify's trustProxy allows it.
      return binding.start(request, request.headers, () => request.protocol === 'https');
    } catch (error) {
      // start() already contains the user's context() errors; anything else still must not fail the request.
      request.log.error({ err: error }, 'canary-kit: starting the request failed; serving stable');
      return { canary: binding.canary.forContext({}), setCookie: undefined, startedAt: performance.now(), capture: undefined };
    }
  }

  const onRequest: Hook = (request, reply, done) => {
    const slotted = request as SlottedRequest;
    const state = start(request);
    slotted[kState] = state;
    request.canary = state.canary;
    // reply.header appends to an existing Set-Cookie rather than replacing it, as do later calls.
    if (state.setCookie !== undefined) reply.header('set-cookie', state.setCookie);
    try {
      slotted[kRoute] = routeBindingOf(request);
    } catch (error) {
      request.log.error({ err: error }, 'canary-kit: reading the route failed; request treated as unbound');
    }
    done();
  };

  const onResponse: Hook = (request, reply, done) => {
    const slotted = request as SlottedRequest;
    const state = slotted[kState];
    const route = slotted[kRoute];
    if (state !== null && (route === null || route.record)) {
      try {
        binding.finish(state, request.method, route?.url, reply.statusCode, route?.flag);
      } catch (error) {
        // The response is already sent; a metrics failure is reported once and never rethrown.
        binding.canary.reportError(error);
        if (!reportedFinishError) {
          reportedFinishError = true;
          request.log.error({ err: error }, 'canary-kit: recording request metrics failed (reported once)');
        }
      }
    }
    done();
  };

  return { onRequest, onResponse };
}
