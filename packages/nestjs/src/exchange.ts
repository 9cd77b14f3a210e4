import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import {
  captureRequestBody,
  captureResponseBody,
  type ExchangeCapture,
  type RequestHeaders,
} from '@canary-kit/core';
import type { NestRequestState } from './request-state.js';

/** The code of the warning emitted (once per application) when a body parser ran before canary-kit. */
export const BODY_PARSER_ORDER_WARNING = 'CANARY_KIT_BODY_PARSER_ORDER';

export const BODY_PARSER_ORDER_MESSAGE =
  'canary-kit: the request body was consumed before CanaryMiddleware ran (on @nestjs/platform-express Nest ' +
  'registers its body parsers ahead of all middleware). Create the application with ' +
  '`NestFactory.create(AppModule, { rawBody: true })` so canary-kit uses `req.rawBody`, the bytes the client ' +
  'sent. Until then, shadow copies of requests with a body are skipped (counted as `skipped`) and canary ' +
  'requests to an upstream-bound route are served by stable (counted as failovers), never sent re-serialized.';

/** Whether the request announced a body (RFC 9112 §6.3). */
export function announcesBody(headers: RequestHeaders): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/** The raw body a platform kept when the app was created with `rawBody: true`. */
export function rawBodyOf(...requests: unknown[]): Buffer | undefined {
  for (const request of requests) {
    const raw = (request as { rawBody?: unknown } | null | undefined)?.rawBody;
    if (Buffer.isBuffer(raw)) return raw;
  }
  return undefined;
}

/**
 * Starts capturing the raw request body for shadow copies (and upstream proxying). Returns false when the
 * bytes the client sent cannot be had: a body parser read the stream first and left no `rawBody`.
 *
 * - Nothing has read the stream yet (platform-fastify, where Nest middleware runs in `onRequest`; a
 *   content type Nest's Express parsers leave alone): core's `captureRequestBody` sees every chunk as the
 *   HTTP parser hands it over, whoever reads the stream later.
 * - A parser consumed it (platform-express JSON and urlencoded bodies): `req.rawBody` from Nest's
 *   `rawBody: true` is the exact bytes.
 */
export function captureRequest(req: IncomingMessage, capture: ExchangeCapture): boolean {
  const buffer = capture.request;
  if (buffer === undefined) return true;
  // Bytes already waiting in the stream's buffer went past `push` before the capture could see them: the
  // capture would lack its start, so it stays incomplete (skipped, counted) rather than wrong.
  const untouched =
    !req.readableEnded && req.readableFlowing !== true && !req.readableDidRead && req.readableLength === 0;
  if (untouched && captureRequestBody(req, capture)) return true;
  const raw = rawBodyOf(req);
  if (raw !== undefined) {
    buffer.add(raw);
    capture.requestComplete = true;
    return true;
  }
  return !announcesBody(req.headers);
}

/**
 * Captures the response as sent: the body up to the capture's limit (core's `captureResponseBody`, which
 * passes everything through unbuffered) and the headers given to `writeHead()`, where Fastify writes its
 * reply's headers without `setHeader`, so that `getHeaders()` alone would miss them.
 */
export function captureResponse(
  res: ServerResponse,
  capture: ExchangeCapture,
  state: NestRequestState,
): void {
  captureResponseBody(res, capture);
  const writeHead = res.writeHead;
  res.writeHead = function canaryKitWriteHead(this: ServerResponse, ...args: unknown[]) {
    const headers = args[args.length - 1];
    if (args.length > 1 && typeof headers === 'object' && headers !== null) {
      state.writtenHeaders = headers as OutgoingHttpHeaders;
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

function headerValue(value: unknown): string | string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  return String(value);
}

/** The response headers as sent: those given to `writeHead()` merged with those set on the response. */
export function sentHeaders(res: ServerResponse, state: NestRequestState): RequestHeaders {
  const headers: Record<string, string | string[] | undefined> = {};
  const written = state.writtenHeaders;
  if (Array.isArray(written)) {
    // The raw form: [name, value, name, value, …].
    for (let i = 0; i + 1 < written.length; i += 2) {
      const name = String(written[i]).toLowerCase();
      const value = String(written[i + 1]);
      const previous = headers[name];
      headers[name] =
        previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
  } else if (written !== undefined) {
    for (const [name, value] of Object.entries(written)) headers[name.toLowerCase()] = headerValue(value);
  }
  for (const [name, value] of Object.entries(res.getHeaders())) headers[name] = headerValue(value);
  return headers;
}

/**
 * The body to forward to an upstream: none (no body announced), the exact bytes (`rawBody`, or a complete
 * capture), the untouched live stream (then the request cannot fail over), or `null` when the bytes the
 * client sent are gone (a body parser consumed them, or they exceeded the capture).
 */
export function forwardBody(
  req: IncomingMessage,
  platformRequest: unknown,
  state: NestRequestState,
): Buffer | Readable | undefined | null {
  if (!announcesBody(req.headers)) return undefined;
  const raw = rawBodyOf(platformRequest, req);
  if (raw !== undefined) return raw;
  const captured = state.core.capture;
  if (captured?.request !== undefined && captured.requestComplete && !captured.request.truncated) {
    return captured.request.toBuffer();
  }
  if (!req.readableEnded && req.readableFlowing !== true && !req.readableDidRead) return req;
  return null;
}
