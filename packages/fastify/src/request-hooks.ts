import {
  captureResponseBody,
  type ExchangeInfo,
  type RequestBinding,
  type RequestHeaders,
  type RequestState,
} from '@canary-kit/core';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { captureRawBody } from './body-capture.js';
import { kRoute, kServedBy, kState, type SlottedRequest } from './request-slots.js';
import { routeBindingOf } from './route-binding.js';

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

export interface RequestHooks {
  readonly onRequest: Hook;
  readonly onResponse: Hook;
}

/** Said once per plugin registration when the body was read before canary-kit could capture it. */
export const BODY_ALREADY_READ =
  "canary-kit: the request body was read before canary-kit's onRequest hook (an earlier onRequest hook, or Express " +
  'middleware through @fastify/express or @fastify/middie, consumed request.raw). Requests whose raw body ' +
  'canary-kit could not capture are not mirrored to shadow targets (counted as outcome "skipped") rather than ' +
  'mirrored with a re-serialized body. Register @canary-kit/fastify before whatever reads the body. (Said once.)';

/**
 * The per-request lifecycle, built once per plugin registration so no closure is created per request.
 * `onRequest` is where a request starts (context, decisions, sticky cookie, route binding, body capture);
 * `onResponse` where it ends (metrics, shadow copies). Callback-style hooks: cheaper than async ones on
 * Fastify's hot path. Without shadow targets nothing is captured: `start()` returns no capture.
 */
export function createRequestHooks(binding: RequestBinding<FastifyRequest>): RequestHooks {
  const canary = binding.canary;
  // Fixed for the Canary's life: only then does a request's method matter to start() (it sizes the capture).
  const capturing = canary.hasShadows || canary.recorder !== undefined;
  let reportedFinishError = false;
  let warnedBodyRead = false;

  function start(request: FastifyRequest): RequestState {
    try {
      // `protocol` honours X-Forwarded-Proto only when Fastify's trustProxy allows it.
      return binding.start(
        request,
        request.headers,
        () => request.protocol === 'https',
        capturing ? request.method : undefined,
        request.url,
      );
    } catch (error) {
      // start() already contains the user's context() errors; anything else still must not fail the request.
      request.log.error({ err: error }, 'canary-kit: starting the request failed; serving stable');
      return {
        canary: canary.forContext({}),
        setCookie: undefined,
        startedAt: performance.now(),
        capture: undefined,
      };
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
    const capture = state.capture;
    if (capture !== undefined) {
      try {
        if (!captureRawBody(request.raw, capture) && capture.request !== undefined && !warnedBodyRead) {
          warnedBodyRead = true;
          request.log.warn(BODY_ALREADY_READ);
        }
        captureResponseBody(reply.raw, capture);
      } catch (error) {
        request.log.error({ err: error }, 'canary-kit: capturing the exchange failed; it is not mirrored');
      }
    }
    done();
  };

  const onResponse: Hook = (request, reply, done) => {
    const slotted = request as SlottedRequest;
    const state = slotted[kState];
    const route = slotted[kRoute];
    if (state !== null && (route === null || route.record)) {
      try {
        const servedBy = slotted[kServedBy];
        const exchange: ExchangeInfo | undefined =
          state.capture !== undefined || servedBy !== null
            ? {
                url: request.originalUrl,
                requestHeaders: request.headers,
                responseHeaders: () => reply.getHeaders() as RequestHeaders,
                shadow: route?.shadow,
                servedBy: servedBy ?? undefined,
              }
            : undefined;
        binding.finish(state, request.method, route?.url, reply.statusCode, route?.flag, exchange);
      } catch (error) {
        // The response is already sent; a metrics failure is reported once and never rethrown.
        canary.reportError(error);
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
