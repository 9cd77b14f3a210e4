import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Canary, ForwardResult, UpstreamProxy } from '@canary-kit/core';
import { forwardBody } from './exchange.js';
import type { NestRequestState } from './request-state.js';

/**
 * What the route guard returns once canary-kit has answered a request itself (proxied, or 502/504): a
 * promise that never settles, so that Nest runs neither the remaining guards, the interceptors, the handler
 * nor its own reply, and no exception filter sees anything. Nothing keeps a reference to it: once the
 * response is over, the request's whole pending chain is garbage like any finished request.
 */
function answered(): Promise<boolean> {
  return new Promise<boolean>(() => {});
}

/**
 * Drops an upstream body unread. An undici body destroyed before its end emits an `AbortError`: without a
 * listener that would be an uncaught exception.
 */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Tells Fastify the response is written on the raw response (`reply.hijack()`); nothing on Express. */
function hijack(reply: unknown): void {
  const hijackable = reply as { hijack?: () => unknown } | null;
  if (typeof hijackable?.hijack === 'function') hijackable.hijack();
}

function writeUpstreamHeaders(res: ServerResponse, result: Extract<ForwardResult, { ok: true }>): void {
  for (const [name, value] of Object.entries(result.headers)) {
    // Appended, not set: the sticky id cookie canary-kit issued stays next to the upstream's cookies.
    if (name === 'set-cookie') res.appendHeader(name, value);
    else res.setHeader(name, value);
  }
  res.writeHead(result.status);
}

function gatewayError(res: ServerResponse, status: 502 | 504): void {
  const error = status === 504 ? 'Gateway Timeout' : 'Bad Gateway';
  const body = JSON.stringify({
    statusCode: status,
    error,
    message: 'canary-kit: the canary upstream failed and a non-idempotent request is never replayed',
  });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

export interface ProxyTarget {
  readonly canary: Canary;
  readonly flag: string;
  readonly upstream: UpstreamProxy;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Express's request or Fastify's (for `rawBody`). */
  readonly platformRequest: unknown;
  /** Express's response or Fastify's reply (to hijack). */
  readonly platformResponse: unknown;
  readonly state: NestRequestState;
  readonly secure: boolean;
  /** The bytes the client sent are gone (consumed by a body parser, no `rawBody`). */
  readonly onBodyUnavailable: () => void;
}

/**
 * Proxies a canary request to its flag's upstream and streams the answer to the client. Resolves `true` when
 * the local handler is to serve the request instead — failover: the upstream refused, reset, timed out or
 * answered 5xx to an idempotent request — with `state.failedOver` set, so it is served and labelled as stable.
 * Otherwise canary-kit answered and the returned promise never settles (see `answered`). Non-idempotent
 * requests are never replayed: when their upstream fails, the client gets 502 (504 on a timeout).
 */
export async function proxyToUpstream(target: ProxyTarget): Promise<boolean> {
  const { canary, flag, upstream, req, res, state } = target;
  const failover = (reason: Parameters<Canary['recordFailover']>[1]): boolean => {
    canary.recordFailover(flag, reason);
    state.failedOver = flag;
    return true;
  };
  const body = forwardBody(req, target.platformRequest, state);
  if (body === null) {
    target.onBodyUnavailable();
    // Sending a re-serialized body would not be the client's request: served locally, as stable.
    return failover('body_unavailable');
  }
  let result: ForwardResult;
  try {
    result = await upstream.forward({
      method: req.method ?? 'GET',
      url: (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/',
      headers: req.headers,
      body,
      remoteAddress: req.socket?.remoteAddress,
      protocol: target.secure || (req.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http',
    });
  } catch (error) {
    // forward() reports failures in its result; a throw is a bug, never the client's problem.
    canary.reportError(error);
    const live = body !== undefined && !Buffer.isBuffer(body);
    result = { ok: false, reason: 'protocol', failover: !live };
  }
  if (!result.ok) {
    if (result.failover) return failover(result.reason);
    if (!res.headersSent && !res.destroyed) {
      hijack(target.platformResponse);
      gatewayError(res, result.reason === 'timeout' ? 504 : 502);
    }
    return answered();
  }
  if (res.headersSent || res.destroyed) {
    discard(result.body);
    return answered();
  }
  hijack(target.platformResponse);
  try {
    writeUpstreamHeaders(res, result);
  } catch (error) {
    // A header Node rejects: the answer cannot be relayed as it is.
    canary.reportError(error);
    discard(result.body);
    if (!res.headersSent) {
      for (const name of Object.keys(result.headers)) res.removeHeader(name);
      gatewayError(res, 502);
    } else res.destroy();
    return answered();
  }
  pipeline(result.body, res, (error) => {
    // The upstream broke off mid-body (or the client left): the client sees a cut response, as from any proxy.
    if (error && !res.destroyed) res.destroy();
  });
  return answered();
}
