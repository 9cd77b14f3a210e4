import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExchangeCapture } from '../http/request-binding.js';

/**
 * Captures the raw request body as the HTTP parser hands it to the request stream — by wrapping the instance's
 * `push` — so the bytes are seen whatever reads the stream (a body parser's `data` events, `read()`, async
 * iteration, a pipe) and whether or not anything reads it. The stream itself is untouched: the app reads exactly
 * the bytes it would have read. Must run before anything consumes the body; returns false when too late (the
 * stream already ended or is being read), so the adapter can warn that a body parser runs before it.
 */
export function captureRequestBody(req: IncomingMessage, capture: ExchangeCapture): boolean {
  const buffer = capture.request;
  // Too late when any byte already went by: a capture missing its start would be mirrored as if whole.
  if (
    req.readableEnded ||
    req.readableFlowing === true ||
    req.readableLength > 0 ||
    req.readableDidRead ||
    (req as { body?: unknown }).body !== undefined
  ) {
    return false;
  }
  if (buffer === undefined) return true;
  const push = req.push;
  req.push = function canaryKitPush(
    this: IncomingMessage,
    chunk: unknown,
    encoding?: BufferEncoding,
  ): boolean {
    if (chunk === null) capture.requestComplete = true;
    else if (chunk !== undefined) {
      try {
        buffer.add(chunk as Buffer | string, encoding);
      } catch {
        // Capture is best-effort; the request stream goes on regardless.
      }
    }
    return push.call(this, chunk, encoding);
  } as IncomingMessage['push'];
  if (req.complete && req.readableLength === 0) capture.requestComplete = true;
  return true;
}

type Write = ServerResponse['write'];
type End = ServerResponse['end'];

function add(capture: ExchangeCapture, chunk: unknown, encoding: unknown): void {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
  try {
    capture.response.add(
      chunk as Buffer | string,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined,
    );
  } catch {
    // Capture is best-effort; the response goes out regardless.
  }
}

/**
 * Captures the response body as written, up to the capture's limit (a reference per chunk, copied once at the
 * end), by wrapping the instance's `write` and `end`. Everything the framework writes — strings, buffers, piped
 * streams — passes through unchanged and unbuffered beyond the limit.
 */
export function captureResponseBody(res: ServerResponse, capture: ExchangeCapture): void {
  const write: Write = res.write;
  const end: End = res.end;
  res.write = function canaryKitWrite(
    this: ServerResponse,
    chunk: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    add(capture, chunk, encoding);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, encoding, callback);
  } as Write;
  res.end = function canaryKitEnd(
    this: ServerResponse,
    chunk?: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    add(capture, chunk, encoding);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, encoding, callback);
  } as End;
}
