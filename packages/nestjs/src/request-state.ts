import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Decision, RequestCanary, RequestState, RouteShadowOptIn } from '@canary-kit/core';

/**
 * Where a request's state lives: on the Node request both platforms share (Express's request is one;
 * Fastify's wraps it as `request.raw`). `Symbol.for` so that two copies of this package agree on it.
 */
const STATE = Symbol.for('@canary-kit/nestjs:request-state');

/** One request as canary-kit's Nest integration sees it. */
export interface NestRequestState {
  /** Decisions, sticky cookie and start time, from core's RequestBinding. */
  readonly core: RequestState;
  /** The response being watched for its end (set once). */
  response: ServerResponse | undefined;
  /** The matched route's pattern, once a route matched. */
  route: string | undefined;
  /** The flag the matched route is bound to: its decision labels the request's version. */
  flag: string | undefined;
  /** The flag the custom-versioning extractor evaluated, bound to the route if it is split by version. */
  versionFlag: string | undefined;
  /** Whether the matched route has been bound (route guard or @CanaryGuard, whichever ran first). */
  bound: boolean;
  /** The matched route's shadow opt-in (`@CanaryShadow`). */
  shadow: RouteShadowOptIn | undefined;
  /**
   * The flag whose upstream failed for this canary request, which the local handler then serves as stable:
   * metrics say `stable`, `@CanaryGuard` answers as for a stable request, `@CanaryDecision()` says `stable`.
   */
  failedOver: string | undefined;
  /** Headers handed to `writeHead()` (Fastify writes its reply's there, bypassing `setHeader`). */
  writtenHeaders: OutgoingHttpHeaders | readonly unknown[] | undefined;
}

type WithState = IncomingMessage & { [STATE]?: NestRequestState };

export function stateOf(req: IncomingMessage): NestRequestState | undefined {
  return (req as WithState)[STATE];
}

export function attachState(req: IncomingMessage, state: NestRequestState): void {
  (req as WithState)[STATE] = state;
}

function isNodeRequest(value: unknown): value is IncomingMessage {
  return typeof value === 'object' && value !== null && 'headers' in value && 'method' in value;
}

/** The Node request under a platform request: Fastify's `request.raw`, else the (Express) request itself. */
export function rawRequest(request: unknown): IncomingMessage {
  const raw = (request as { raw?: unknown } | null)?.raw;
  return isNodeRequest(raw) ? raw : (request as IncomingMessage);
}

/** The Node response under a platform response: Fastify's `reply.raw`, else the (Express) response itself. */
export function rawResponse(response: unknown): ServerResponse {
  const raw = (response as { raw?: unknown } | null)?.raw;
  return typeof raw === 'object' && raw !== null && 'setHeader' in raw
    ? (raw as ServerResponse)
    : (response as ServerResponse);
}

/**
 * The matched route's pattern as the platform knows it: Fastify's `routeOptions.url`, Express's
 * `req.route.path`. Never the raw URL, so one series per route however many ids it is called with.
 */
export function platformRoute(request: unknown): string | undefined {
  const r = request as { routeOptions?: { url?: unknown }; route?: { path?: unknown } } | null;
  const fastify = r?.routeOptions?.url;
  if (typeof fastify === 'string') return fastify;
  const express = r?.route?.path;
  return typeof express === 'string' ? express : undefined;
}

/**
 * The request's decisions as the code serving it should see them: after an upstream failover the failed-over
 * flag answers `stable` (reason unchanged), since the local handler serves the request as stable.
 */
export function requestCanary(state: NestRequestState): RequestCanary {
  const original = state.core.canary;
  const flag = state.failedOver;
  if (flag === undefined) return original;
  const stable = (decision: Decision): Decision =>
    decision.flag === flag && decision.version === 'canary' ? { ...decision, version: 'stable' } : decision;
  const view = Object.create(original) as RequestCanary;
  Object.defineProperties(view, {
    evaluate: { value: (f: string) => stable(original.evaluate(f)) },
    isCanary: { value: (f: string) => stable(original.evaluate(f)).version === 'canary' },
    decisions: { value: () => original.decisions().map(stable) },
  });
  return view;
}

/**
 * The canary-kit decisions of a request, memoized per request: pass Nest's `@Req()` (Express request or
 * Fastify request) or a raw Node request. Undefined when CanaryModule has not seen the request. After an
 * upstream failover, the failed-over flag says `stable`.
 */
export function getRequestCanary(request: unknown): RequestCanary | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const state = stateOf(rawRequest(request));
  return state === undefined ? undefined : requestCanary(state);
}
