import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import {
  type Canary,
  type Decision,
  type ForwardRequest,
  type ForwardResult,
  IDEMPOTENT,
  type RequestCanary,
  type UpstreamProxy,
} from '@canary-kit/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { kRoute, kServedBy, kState, type SlottedRequest } from './request-slots.js';

/**
 * Request bodies of idempotent methods kept in memory so a failed upstream can fail over to the local handler,
 * which then reads the same bytes. A larger body (or one announced larger) is streamed instead, without failover.
 */
export const UPSTREAM_BUFFER_BYTES = 1024 * 1024;

const noop = () => {};

/** Destroys a stream whose error nobody awaits (undici's body emits one when destroyed before its end). */
function destroyQuietly(stream: Readable): void {
  stream.on('error', noop);
  stream.destroy();
}

type Payload = Readable & { receivedEncodedLength?: number };
type Done = (error?: Error | null, payload?: Payload) => void;
export type PreParsingHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: Payload,
  done: Done,
) => void;

/** Said once per plugin registration when a body cannot be proxied because a preParsing hook replaced it. */
export const PAYLOAD_REPLACED =
  'canary-kit: a preParsing hook registered before @canary-kit/fastify replaced the request stream (decompression?), ' +
  'so the raw body cannot be proxied to the canary upstream; such requests are served locally by stable. ' +
  'Register @canary-kit/fastify before it. (Said once.)';

/** Whether the request announced a body (RFC 9112 §6.3). */
function announcesBody(headers: FastifyRequest['headers']): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/**
 * The request stream as the upstream's request body, touched only when the upstream client starts reading it:
 * until then the raw request is untouched, so a proxy that fails before sending (upstream marked unhealthy,
 * circuit open) can still hand the request to the local handler. `prefix` holds bytes already read from it.
 */
class LazyBody extends Readable {
  started = false;
  readonly #source: IncomingMessage;
  #prefix: Buffer[];

  constructor(source: IncomingMessage, prefix: Buffer[]) {
    super();
    this.#source = source;
    this.#prefix = prefix;
    // The upstream client destroys its body with the request's error; that error reaches us in its result.
    this.on('error', noop);
  }

  override _read(): void {
    if (this.started) {
      this.#source.resume();
      return;
    }
    this.started = true;
    for (const chunk of this.#prefix) this.push(chunk);
    this.#prefix = [];
    const source = this.#source;
    source.on('data', this.#onData);
    source.on('end', this.#onEnd);
    source.on('error', this.#onError);
    source.on('close', this.#onClose);
    source.resume();
  }

  #onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.#source.pause();
  };
  #onEnd = (): void => {
    this.push(null);
  };
  #onError = (error: Error): void => {
    this.destroy(error);
  };
  #onClose = (): void => {
    if (!this.#source.readableEnded) this.destroy(new Error('the client aborted the request'));
  };

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const source = this.#source;
    source.off('data', this.#onData);
    source.off('end', this.#onEnd);
    source.off('error', this.#onError);
    source.off('close', this.#onClose);
    callback(error);
  }
}

/**
 * Reads `source` up to `limit` bytes: `complete` with every chunk when it ended within the limit; otherwise
 * the chunks read so far (a little over the limit) with the stream paused where it stopped.
 */
function collect(
  source: IncomingMessage,
  limit: number,
  callback: (error: Error | null, chunks: Buffer[], complete: boolean) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = () => {
    source.off('data', onData);
    source.off('end', onEnd);
    source.off('error', onError);
    source.off('close', onClose);
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      cleanup();
      source.pause();
      callback(null, chunks, false);
    }
  };
  const onEnd = () => {
    cleanup();
    callback(null, chunks, true);
  };
  const onError = (error: Error) => {
    cleanup();
    callback(error, chunks, false);
  };
  const onClose = () => {
    if (source.readableEnded) return;
    cleanup();
    callback(new Error('the client aborted the request'), chunks, false);
  };
  source.on('data', onData);
  source.on('end', onEnd);
  source.on('error', onError);
  source.on('close', onClose);
}

/**
 * `request.canary` after a failover: the failed-over flag answers stable (reason unchanged), so
 * `canaryHandler()` and any `isCanary(flag)` in the handler serve the stable code path.
 */
function servedByStable(original: RequestCanary, flag: string): RequestCanary {
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

const GATEWAY_ERRORS = {
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
} as const;

/**
 * The `preParsing` hook that proxies the canary share of routes bound to a flag with an `upstream`. It runs
 * after every onRequest hook (authentication there applies) and before body parsing, validation, preHandler
 * hooks and the handler, none of which run for a proxied request.
 *
 * - No body → forwarded at once.
 * - Idempotent method with a body of at most UPSTREAM_BUFFER_BYTES → read into memory, then forwarded; on
 *   failover the local handler parses the same bytes.
 * - Anything else with a body → streamed to the upstream as it arrives; never replayed.
 *
 * On success the upstream's status, headers (hop-by-hop removed) and streamed body are the reply. On a
 * failover (connect error, timeout, 5xx or a reset on an idempotent request; upstream unhealthy or circuit
 * open on any) the request goes on to the local handler served as stable, and the failover is counted. When
 * the request cannot be replayed the client gets 502 (504 on a timeout).
 */
export function createUpstreamHook(canary: Canary): PreParsingHook {
  let warnedReplaced = false;

  function forward(
    request: FastifyRequest,
    reply: FastifyReply,
    flag: string,
    proxy: UpstreamProxy,
    body: Buffer | LazyBody | undefined,
    done: Done,
  ): void {
    const raw = request.raw;
    const forwardRequest: ForwardRequest = {
      method: request.method,
      url: request.originalUrl,
      headers: request.headers,
      body,
      remoteAddress: raw.socket?.remoteAddress,
      protocol: request.protocol === 'https' ? 'https' : 'http',
    };
    const settle = (result: ForwardResult) => {
      try {
        respond(result);
      } catch (error) {
        // Never an unhandled rejection: an answer Fastify refuses (a malformed header) is a bad gateway.
        request.log.error({ err: error }, 'canary-kit: relaying the canary upstream answer failed');
        if (result.ok) destroyQuietly(result.body);
        if (!reply.sent && !reply.raw.headersSent) {
          if (result.ok) for (const name of Object.keys(result.headers)) reply.removeHeader(name);
          reply.code(502).send({ statusCode: 502, code: 'CANARY_UPSTREAM_FAILED', error: 'Bad Gateway' });
        }
      }
    };
    const respond = (result: ForwardResult) => {
      if (result.ok) {
        if (reply.raw.destroyed) {
          // The client left while the upstream was answering.
          destroyQuietly(result.body);
          return;
        }
        reply.code(result.status);
        reply.headers(result.headers);
        reply.send(result.body);
        return;
      }
      const untouched = !(body instanceof LazyBody) || !body.started;
      if (result.failover && untouched) {
        canary.recordFailover(flag, result.reason);
        failOver(request, flag);
        // A buffered body was read from the request: the local handler gets the same bytes in a new stream.
        if (Buffer.isBuffer(body)) done(null, Readable.from([body], { objectMode: false }));
        else done();
        return;
      }
      if (body instanceof LazyBody) body.destroy();
      const status = result.reason === 'timeout' ? 504 : 502;
      request.log.warn(
        { reason: result.reason, err: result.ok === false ? result.error : undefined },
        `canary-kit: the canary upstream for flag "${flag}" failed (${result.reason}); a ${request.method} is never replayed`,
      );
      reply
        .code(status)
        .type('application/json; charset=utf-8')
        .send({
          statusCode: status,
          code: 'CANARY_UPSTREAM_FAILED',
          error: GATEWAY_ERRORS[status],
          message: `canary upstream failed (${result.reason})`,
        });
    };
    let pending: Promise<ForwardResult>;
    try {
      pending = proxy.forward(forwardRequest);
    } catch (error) {
      pending = Promise.resolve({ ok: false, reason: 'protocol', failover: true, error: error as Error });
    }
    pending.then(settle, (error: unknown) =>
      settle({ ok: false, reason: 'protocol', failover: true, error: error as Error }),
    );
  }

  function failOver(request: FastifyRequest, flag: string): void {
    (request as SlottedRequest)[kServedBy] = 'stable';
    request.canary = servedByStable(request.canary, flag);
  }

  return function canaryUpstream(request, reply, payload, done) {
    const slotted = request as SlottedRequest;
    const flag = slotted[kRoute]?.flag;
    if (flag === undefined) return done();
    const proxy = canary.upstreamFor(flag);
    const state = slotted[kState];
    if (proxy === undefined || state === null || !state.canary.isCanary(flag)) return done();

    if (!announcesBody(request.headers)) {
      forward(request, reply, flag, proxy, undefined, done);
      return;
    }
    const raw = request.raw;
    if (payload !== raw || raw.readableDidRead || raw.readableEnded) {
      if (!warnedReplaced) {
        warnedReplaced = true;
        request.log.warn(PAYLOAD_REPLACED);
      }
      failOver(request, flag);
      return done();
    }
    const length = Number(request.headers['content-length']);
    if (!IDEMPOTENT.has(request.method) || length > UPSTREAM_BUFFER_BYTES) {
      forward(request, reply, flag, proxy, new LazyBody(raw, []), done);
      return;
    }
    collect(raw, UPSTREAM_BUFFER_BYTES, (error, chunks, complete) => {
      if (error !== null) done(error);
      else if (complete) forward(request, reply, flag, proxy, Buffer.concat(chunks), done);
      // Larger than announced (chunked): what was read goes first, the rest streams; no failover now.
      else forward(request, reply, flag, proxy, new LazyBody(raw, chunks), done);
    });
  };
}
