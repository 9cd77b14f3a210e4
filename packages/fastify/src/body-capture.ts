import type { IncomingMessage } from 'node:http';
import { captureRequestBody, type ExchangeCapture } from '@canary-kit/core';

type RawRequest = IncomingMessage & { body?: unknown };

/**
 * Captures the raw request body for shadow copies, without touching the stream the app reads.
 *
 * - Nothing buffered yet (canary-kit's `onRequest` ran in the tick the headers arrived: the usual case) → the
 *   core's `captureRequestBody`, which sees every byte the HTTP parser pushes, read or not.
 * - Bytes already buffered but not read (an `async` onRequest hook ran before canary-kit's, so part of the body
 *   arrived meanwhile) → every `data` event is observed instead: whoever reads the stream (Fastify's parser, a
 *   plugin piping `request.raw`) gets each byte through one, buffered ones first.
 * - Already being read, or parsed (`request.raw.body` set by Express middleware through @fastify/express or
 *   @fastify/middie) → false: the body cannot be captured faithfully, so such requests are not mirrored
 *   (the core counts them `skipped`) rather than mirrored with a re-serialized body.
 */
export function captureRawBody(raw: IncomingMessage, capture: ExchangeCapture): boolean {
  const r = raw as RawRequest;
  if (r.readableDidRead || r.readableEnded || r.body !== undefined) return false;
  if (r.readableLength === 0 && r.readableFlowing !== true) return captureRequestBody(raw, capture);
  observeData(raw, capture);
  return true;
}

/** Wraps the instance's `emit`: every byte a consumer reads leaves the stream in a `data` event, in order. */
function observeData(raw: IncomingMessage, capture: ExchangeCapture): void {
  const buffer = capture.request;
  if (buffer === undefined) return;
  const emit = raw.emit;
  let faithful = true;
  raw.emit = function canaryKitEmit(this: IncomingMessage, event: string | symbol, ...args: unknown[]) {
    if (event === 'data' && faithful) {
      const chunk = args[0];
      // A string means the reader called setEncoding(): the original bytes are no longer known.
      if (Buffer.isBuffer(chunk)) buffer.add(chunk);
      else faithful = false;
    } else if (event === 'end' && faithful) capture.requestComplete = true;
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as IncomingMessage['emit'];
}
