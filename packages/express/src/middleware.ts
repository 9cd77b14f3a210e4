import { type AdapterOptions, type Canary, RequestBinding } from '@canary-kit/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestRecord } from './request-record.js';
import { appendSetCookie, beforeHeaders } from './response-hooks.js';

/** Options of `canaryMiddleware`. */
export interface CanaryMiddlewareOptions extends AdapterOptions<Request> {}

/**
 * The one middleware canary-kit needs: mount it before your routes. For every request it builds the
 * evaluation context (your `context(req)`, override header/cookie, sticky anonymous id), exposes the
 * decisions as `req.canary`, issues the sticky cookie when needed and records
 * `http_request_duration_seconds{method,route,status_code,version}` when the response is finished.
 *
 * Nothing it does can fail the request: a throwing `context()` is counted and served by stable.
 */
export function canaryMiddleware(canary: Canary, options: CanaryMiddlewareOptions = {}): RequestHandler {
  // Validates the canary and the options now, at startup, rather than on the first request.
  const binding = new RequestBinding<Request>(canary, options);
  return function canaryKitMiddleware(req: Request, res: Response, next: NextFunction): void {
    try {
      startRequest(binding, req, res);
    } catch {
      // Never expected (the binding guards the user's code); still, the request must go on, by stable.
      req.canary ??= canary.forContext({});
    }
    next();
  };
}

/**
 * Where a request starts: context and decisions, the sticky cookie, and the hook that records the
 * finished response. (Request-body capture for shadow copies and recording belongs here too.)
 */
function startRequest(binding: RequestBinding<Request>, req: Request, res: Response): void {
  // `req.secure` is a getter (trust proxy, X-Forwarded-Proto): only read when a cookie is issued.
  const state = binding.start(req, req.headers, () => req.secure);
  const record = new RequestRecord(state);
  record.attach(req);
  req.canary = state.canary;
  const cookie = state.setCookie;
  if (cookie !== undefined) beforeHeaders(res, (r) => appendSetCookie(r, cookie));
  res.once('finish', () => finishRequest(binding, record, req, res));
}

/** Where a response is finished: the request is recorded under its route pattern and serving version. */
function finishRequest(
  binding: RequestBinding<Request>,
  record: RequestRecord,
  req: Request,
  res: Response,
): void {
  try {
    binding.finish(record.state, req.method, record.routePattern(), res.statusCode, record.flag);
  } catch (error) {
    // A metrics failure must not surface as an uncaught exception from the 'finish' event.
    binding.canary.reportError(error);
  }
}
