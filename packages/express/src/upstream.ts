import { pipeline, Readable } from 'node:stream';
import type { FailoverReason, ForwardResult, UpstreamProxy } from '@canary-kit/core';
import type { Request, Response } from 'express';
import type { RequestRecord } from './request-record.js';

/** Why a canary request was served locally when its body could not be sent faithfully. */
export const BODY_UNAVAILABLE: FailoverReason = 'body_unavailable';

/** Whether the request announced a body (RFC 9112 §6.3). */
function announcesBody(req: Request): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * The request stream handed to the upstream, read from `req` only once the upstream client starts reading
 * it: when the proxy gives up before sending (circuit open, upstream marked unhealthy) the request stream is
 * untouched and the local stable handler can still read it.
 */
class RequestBodyStream extends Readable {
  readonly #req: Request;
  started = false;
  readonly #onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.#req.pause();
  };
  readonly #onEnd = (): void => {
    this.push(null);
  };
  readonly #onAbort = (): void => {
    if (!this.#req.readableEnded) this.destroy(new Error('the client aborted the request'));
  };

  constructor(req: Request) {
    super();
    this.#req = req;
  }

  override _read(): void {
    const req = this.#req;
    if (!this.started) {
      this.started = true;
      req.on('data', this.#onData);
      req.once('end', this.#onEnd);
      req.once('error', this.#onAbort);
      req.once('close', this.#onAbort);
    }
    req.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#detach();
    callback(error);
  }

  #detach(): void {
    const req = this.#req;
    req.off('data', this.#onData);
    req.off('end', this.#onEnd);
    req.off('error', this.#onAbort);
    req.off('close', this.#onAbort);
  }
}

type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly bytes: Buffer }
  | { readonly kind: 'stream'; readonly stream: RequestBodyStream }
  | { readonly kind: 'unavailable' };

/**
 * What can be sent as the request body: nothing; the raw bytes captured complete (a body parser read the
 * stream, or it arrived whole before anyone read it) — failover stays possible for idempotent methods; the
 * live stream when nothing read it yet — never replayed; or nothing faithful at all.
 */
function bodyOf(req: Request, record: RequestRecord): Body {
  if (!announcesBody(req)) return { kind: 'none' };
  const capture = record.state.capture;
  const buffer = capture?.request;
  if (record.bodyCaptured && capture?.requestComplete && buffer !== undefined && !buffer.truncated)
    return { kind: 'buffer', bytes: buffer.toBuffer() };
  if (!req.readableEnded && req.readableFlowing === null && !req.destroyed)
    return { kind: 'stream', stream: new RequestBodyStream(req) };
  return { kind: 'unavailable' };
}

/**
 * Proxies a canary request to the flag's upstream and streams the answer back with its status and headers.
 * Calls `serveStable` (after counting the failover) when the upstream fails in a way that allows it: before
 * sending anything, or an idempotent request with a replayable body. A request that cannot be retried is
 * answered 502, or 504 when the upstream timed out. Never throws; never rejects.
 */
export async function proxyToUpstream(
  upstream: UpstreamProxy,
  flag: string,
  req: Request,
  res: Response,
  record: RequestRecord,
  serveStable: () => void,
): Promise<void> {
  const canary = record.canary;
  const failover = (reason: FailoverReason): void => {
    canary.recordFailover(flag, reason);
    record.servedBy = 'stable';
    serveStable();
  };
  const body = bodyOf(req, record);
  if (body.kind === 'unavailable') {
    failover(BODY_UNAVAILABLE);
    return;
  }
  let result: ForwardResult;
  try {
    result = await upstream.forward({
      method: req.method,
      url: record.url,
      headers: req.headers,
      body: body.kind === 'buffer' ? body.bytes : body.kind === 'stream' ? body.stream : undefined,
      remoteAddress: req.socket?.remoteAddress,
      protocol: req.protocol === 'https' ? 'https' : 'http',
    });
  } catch (error) {
    // Not expected (forward reports failures as results); treated like a protocol failure.
    result = { ok: false, reason: 'protocol', failover: body.kind !== 'stream', error: error as Error };
  }

  if (result.ok) {
    record.servedBy = 'canary';
    if (body.kind === 'stream') {
      // An upstream may answer before reading the whole upload: whatever the client still sends is then read
      // and dropped once the response is out, so the client's connection stays usable.
      res.once('finish', () => {
        if (req.readableEnded) return;
        body.stream.destroy();
        req.resume();
      });
    }
    sendUpstreamResponse(result, res, canary);
    return;
  }
  // A stream the upstream client never started reading is intact: the local handler can still read it.
  const untouched = body.kind !== 'stream' || !body.stream.started;
  if (result.failover && untouched) {
    if (body.kind === 'stream') body.stream.destroy();
    failover(result.reason);
    return;
  }
  if (body.kind === 'stream') {
    body.stream.destroy();
    // Whatever the client still sends is read and dropped, so its connection stays usable.
    if (!req.readableEnded) req.resume();
  }
  // The client went away (an aborted upload ends the upstream request too): nobody to answer, nothing to report.
  if (res.destroyed || req.socket?.destroyed) return;
  canary.reportError(
    new Error(
      `canary-kit: the upstream of flag "${flag}" failed (${result.reason}) on a ${req.method} request that ` +
        'cannot be replayed; answered ' +
        (result.reason === 'timeout' ? '504' : '502'),
      { cause: result.error },
    ),
  );
  if (res.headersSent) return;
  const status = result.reason === 'timeout' ? 504 : 502;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(status === 504 ? 'Gateway Timeout' : 'Bad Gateway');
}

/** Streams the upstream's answer to the client: status, headers (hop-by-hop ones already removed), body. */
function sendUpstreamResponse(
  result: Extract<ForwardResult, { ok: true }>,
  res: Response,
  canary: RequestRecord['canary'],
): void {
  if (res.headersSent || res.destroyed) {
    result.body.destroy();
    return;
  }
  res.statusCode = result.status;
  for (const [name, value] of Object.entries(result.headers)) {
    try {
      res.setHeader(name, value);
    } catch {
      // A header Node refuses to send is left out rather than failing the response.
    }
  }
  pipeline(result.body, res, (error) => {
    // The upstream broke off mid-body (or the client went away, which needs no report): the response
    // cannot be completed, and pipeline() has destroyed both ends.
    if (error && (error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE')
      canary.reportError(error);
  });
}
