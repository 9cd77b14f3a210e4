import {
  type AdapterOptions,
  type Canary,
  captureRequestBody,
  captureResponseBody,
  type ExchangeInfo,
  RequestBinding,
} from '@canary-kit/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestRecord } from './request-record.js';
import { appendSetCookie, beforeHeaders } from './response-hooks.js';

/** The code of the warning given when `canaryMiddleware` runs after a body parser. */
export const BODY_PARSER_ORDER = 'CANARY_KIT_BODY_PARSER_ORDER';

/** Receives canary-kit's setup warnings: a message and a stable code (`CANARY_KIT_BODY_PARSER_ORDER`). */
export type WarningHandler = (message: string, code: string) => void;

/** Options of `canaryMiddleware`. */
export interface CanaryMiddlewareOptions extends AdapterOptions<Request> {
  /**
   * Where setup warnings go — said once per middleware. Default: `process.emitWarning(message,
   * { type: 'CanaryKitWarning', code })`, which Node prints to stderr.
   */
  warn?: WarningHandler;
}

const defaultWarn: WarningHandler = (message, code) => {
  process.emitWarning(message, { type: 'CanaryKitWarning', code });
};

const BODY_PARSER_ORDER_MESSAGE =
  'canary-kit: canaryMiddleware ran after something read the request body (req.body was set or the stream ' +
  'was consumed). Mount app.use(canaryMiddleware(...)) first, before express.json(), express.urlencoded(), ' +
  'express.raw() and any middleware that reads the request. Until then shadow copies and upstream proxying ' +
  'of request bodies are off for such requests: they are skipped and counted, never sent re-serialized.';

/**
 * The one middleware canary-kit needs: mount it first, before body parsers and routes. For every request it
 * builds the evaluation context (your `context(req)`, override header/cookie, sticky anonymous id), exposes
 * the decisions as `req.canary`, issues the sticky cookie when needed, and records
 * `http_request_duration_seconds{method,route,status_code,version}` when the response is finished. With
 * shadow targets (or upstreams) configured it also captures the raw request body as the client sent it —
 * ahead of any body parser, which still reads exactly those bytes — and the response as sent, each up to its
 * limit, and mirrors the finished exchange to the shadow targets that want it.
 *
 * Nothing it does can fail or delay the request: a throwing `context()` is counted and served by stable, a
 * shadow copy is sent after the response finished and never awaited.
 */
export function canaryMiddleware(canary: Canary, options: CanaryMiddlewareOptions = {}): RequestHandler {
  // Validates the canary and the options now, at startup, rather than on the first request.
  const binding = new RequestBinding<Request>(canary, options);
  if (options.warn !== undefined && typeof options.warn !== 'function') {
    throw new TypeError('canary-kit: `warn` must be a function (message, code) => void');
  }
  const warn = options.warn ?? defaultWarn;
  let warned = false;
  const onLateBody = (): void => {
    if (warned) return;
    warned = true;
    try {
      warn(BODY_PARSER_ORDER_MESSAGE, BODY_PARSER_ORDER);
    } catch {
      // A throwing warning handler must not fail the request.
    }
  };
  return function canaryKitMiddleware(req: Request, res: Response, next: NextFunction): void {
    try {
      startRequest(binding, req, res, onLateBody);
    } catch {
      // Never expected (the binding guards the user's code); still, the request must go on, by stable.
      req.canary ??= canary.forContext({});
    }
    next();
  };
}

/**
 * Where a request starts: context and decisions, the sticky cookie, body capture, and the hook that records
 * the finished response.
 */
function startRequest(
  binding: RequestBinding<Request>,
  req: Request,
  res: Response,
  onLateBody: () => void,
): void {
  // `req.secure` is a getter (trust proxy, X-Forwarded-Proto): only read when a cookie is issued.
  const state = binding.start(req, req.headers, () => req.secure, req.method, req.originalUrl ?? req.url);
  const record = new RequestRecord(state, binding.canary, req.originalUrl ?? req.url);
  record.attach(req);
  req.canary = state.canary;
  const cookie = state.setCookie;
  if (cookie !== undefined) beforeHeaders(res, (r) => appendSetCookie(r, cookie));
  const capture = state.capture;
  if (capture !== undefined) {
    // `capture.request` is undefined when nothing wants this method's body (no target considers it).
    if (capture.request !== undefined) {
      // Chunks already buffered in the stream (an async middleware ran first) were pushed before we could
      // see them: the capture would miss its beginning, so that counts as too late, like a parser running first.
      if (req.readableLength === 0 && captureRequestBody(req, capture)) record.bodyCaptured = true;
      else onLateBody();
    }
    captureResponseBody(res, capture);
  }
  res.once('finish', () => finishRequest(binding, record, req, res));
}

/** Where a response is finished: recorded under its route pattern and serving version, then mirrored. */
function finishRequest(
  binding: RequestBinding<Request>,
  record: RequestRecord,
  req: Request,
  res: Response,
): void {
  try {
    const exchange: ExchangeInfo | undefined =
      record.state.capture !== undefined || record.servedBy !== undefined
        ? {
            url: record.url,
            requestHeaders: req.headers,
            responseHeaders: () => sentHeaders(res),
            shadow: record.shadow,
            servedBy: record.servedBy,
          }
        : undefined;
    binding.finish(record.state, req.method, record.routePattern(), res.statusCode, record.flag, exchange);
  } catch (error) {
    // A metrics or mirroring failure must not surface as an uncaught exception from the 'finish' event.
    binding.canary.reportError(error);
  }
}

/** The response headers as sent, numbers as strings (`Content-Length` set as a number, say). */
function sentHeaders(res: Response): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return headers;
}
