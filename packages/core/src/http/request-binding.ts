import { randomUUID } from 'node:crypto';
import type { Canary, RequestCanary } from '../canary.js';
import { BoundedBuffer } from '../capture/bounded-buffer.js';
import { UNMATCHED_ROUTE } from '../metrics/canary-metrics.js';
import type { RouteShadowOptIn } from '../shadow/shadow-target.js';
import type { EvalContext, Version } from '../types.js';
import { readCookie, type SetCookieOptions, serializeCookie } from './cookies.js';

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface StickyCookieOptions {
  /** Cookie name. Default `canary_sid`. */
  name?: string;
  /** Lifetime. Default one year. */
  maxAgeSeconds?: number;
  /** `true`, `false`, or `'auto'` (default): Secure when the request came over HTTPS. */
  secure?: boolean | 'auto';
  path?: string;
  domain?: string;
}

/** Options every adapter accepts, on top of its framework's own. */
export interface AdapterOptions<Req> {
  /**
   * Builds the evaluation context from the framework's request. A throwing function does not fail the
   * request: it is served by stable, counted in `canary_kit_context_errors_total` and reported via `error`.
   */
  context?: (req: Req) => EvalContext | null | undefined;
  /**
   * The sticky anonymous id: when a flag buckets by `sessionId` and the request has no identity for it, a
   * random id is issued in this cookie and used as the `sessionId`, so an anonymous visitor keeps one
   * version. `false` turns it off. On by default.
   */
  stickyCookie?: StickyCookieOptions | false;
}

/**
 * The bytes of one exchange, captured for shadow copies (and the recorder): the raw request body as the client
 * sent it, before any body parser, and the primary response as sent, each up to its limit.
 */
export class ExchangeCapture {
  /** Undefined when no shadow target considers the request's method. */
  readonly request: BoundedBuffer | undefined;
  readonly response: BoundedBuffer;
  /** Set by the adapter when the request body was read to its end (by the app or by the adapter). */
  requestComplete = false;

  constructor(requestLimit: number, responseLimit: number) {
    this.request = requestLimit > 0 ? new BoundedBuffer(requestLimit) : undefined;
    this.response = new BoundedBuffer(responseLimit);
  }
}

/** One request in flight: its decisions, the cookie to set (if any) and when it started. */
export interface RequestState {
  readonly canary: RequestCanary;
  /** `Set-Cookie` value to add to the response, when a sticky id was issued. */
  readonly setCookie: string | undefined;
  readonly startedAt: number;
  /** What the adapter should capture; undefined when nothing needs the bodies (no shadow targets). */
  readonly capture: ExchangeCapture | undefined;
  /** The recorder sampled this request: it is recorded when it finishes. */
  readonly recording?: boolean;
}

/** What an adapter knows about a finished exchange, beyond method, route and status. */
export interface ExchangeInfo {
  /** Path and query as received. */
  readonly url: string;
  readonly requestHeaders: RequestHeaders;
  /** The response headers as sent; called only when a shadow target mirrors the request. */
  readonly responseHeaders: () => RequestHeaders;
  /** The route's own shadow opt-in (route config, helper or decorator). */
  readonly shadow?: RouteShadowOptIn | undefined;
  /** Who actually served: `stable` after an upstream failover, though the decision said canary. */
  readonly servedBy?: Version | undefined;
}

const STICKY_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** Request bodies kept for proxying to an upstream after a body parser consumed the stream. */
export const UPSTREAM_BODY_LIMIT = 1024 * 1024;

/**
 * The framework-independent half of every adapter: builds a request's context (user function, override
 * header and cookie, sticky id) when the request starts, and records its metrics when it ends.
 */
export class RequestBinding<Req> {
  readonly canary: Canary;
  readonly #context: ((req: Req) => EvalContext | null | undefined) | undefined;
  readonly #sticky: (SetCookieOptions & { name: string; auto: boolean }) | undefined;

  constructor(canary: Canary, options: AdapterOptions<Req> = {}) {
    if (!canary || typeof canary.forContext !== 'function') {
      throw new TypeError('canary-kit: pass the Canary returned by createCanary() as the first argument');
    }
    if (options.context !== undefined && typeof options.context !== 'function') {
      throw new TypeError('canary-kit: `context` must be a function (req) => context');
    }
    this.canary = canary;
    this.#context = options.context;
    const sticky = options.stickyCookie;
    if (sticky !== false) {
      const s = sticky ?? {};
      this.#sticky = {
        name: s.name ?? 'canary_sid',
        maxAgeSeconds: s.maxAgeSeconds ?? 365 * 24 * 3600,
        secure: s.secure === true,
        auto: s.secure === undefined || s.secure === 'auto',
        path: s.path ?? '/',
        domain: s.domain,
      };
    }
  }

  /**
   * Whether the exchange's bodies are captured, and up to what size: for shadow targets, for upstream proxying
   * after a body parser, and for a request the recorder sampled.
   */
  #capture(method: string, recording: boolean): ExchangeCapture | undefined {
    const canary = this.canary;
    // Upstream proxying needs the raw body too when a body parser consumes the stream before the route runs.
    const upstreamLimit =
      canary.hasUpstreams && method !== 'GET' && method !== 'HEAD' ? UPSTREAM_BODY_LIMIT : 0;
    const recorder = recording ? canary.recorder : undefined;
    if (!canary.hasShadows && upstreamLimit === 0 && recorder === undefined) return undefined;
    return new ExchangeCapture(
      Math.max(canary.shadowCaptureLimit(method), upstreamLimit, recorder?.requestLimit ?? 0),
      Math.max(canary.shadowResponseLimit, recorder?.responseLimit ?? 0),
    );
  }

  /** The sticky id cookie's name; undefined when the sticky cookie is off. */
  get stickyCookieName(): string | undefined {
    return this.#sticky?.name;
  }

  /**
   * Called when a request arrives. `secure` says whether it came over HTTPS, for the cookie's Secure flag; pass a
   * function when finding out costs something (it is called only when a cookie is issued).
   */
  start(
    req: Req,
    headers: RequestHeaders,
    secure: boolean | (() => boolean),
    method?: string,
    url?: string,
  ): RequestState {
    const startedAt = performance.now();
    const canary = this.canary;
    let base: EvalContext | null | undefined;
    if (this.#context) {
      try {
        base = this.#context(req);
      } catch (error) {
        canary.recordContextError(error);
        base = undefined;
      }
    }
    const context: { -readonly [K in keyof EvalContext]: EvalContext[K] } =
      base !== null && typeof base === 'object' ? { ...base } : {};

    const sources = canary.overrideSources;
    if (sources) {
      const header = sources.header === false ? undefined : headers[sources.header];
      let cookie: string | undefined;
      if (sources.cookie !== false) {
        const value = readCookie(headers.cookie, sources.cookie);
        if (value === null) canary.recordMalformedCookie();
        else cookie = value;
      }
      if (header !== undefined || cookie !== undefined) context.overrides = { header, cookie };
    }

    let setCookie: string | undefined;
    const sticky = this.#sticky;
    if (sticky && context.sessionId === undefined && canary.usesSessionStickiness) {
      const value = readCookie(headers.cookie, sticky.name);
      if (typeof value === 'string' && STICKY_ID.test(value)) context.sessionId = value;
      else if (canary.needsSessionId(context)) {
        const id = randomUUID();
        context.sessionId = id;
        const isSecure = typeof secure === 'function' ? secure() : secure;
        setCookie = serializeCookie(sticky.name, id, sticky.auto ? { ...sticky, secure: isSecure } : sticky);
      }
    }
    const recording =
      method !== undefined && url !== undefined && (canary.recorder?.sample(method, url) ?? false);
    const capture = method === undefined ? undefined : this.#capture(method, recording);
    return { canary: canary.forContext(context), setCookie, startedAt, capture, recording };
  }

  /**
   * Called when the response has been sent. `route` is the matched route pattern (undefined when no route
   * matched); `flag` the flag the route is bound to, whose decision labels the request's version. With
   * `exchange`, the captured request is mirrored to the shadow targets that want it.
   */
  finish(
    state: RequestState,
    method: string,
    route: string | undefined,
    statusCode: number,
    flag?: string,
    exchange?: ExchangeInfo,
  ): void {
    const canary = this.canary;
    const metrics = canary.metrics;
    const routeLabel = route ?? UNMATCHED_ROUTE;
    const seconds = (performance.now() - state.startedAt) / 1000;
    if (flag !== undefined) {
      const version = exchange?.servedBy ?? state.canary.evaluate(flag).version;
      metrics?.observeRequest(method, routeLabel, statusCode, version, seconds);
      canary.observeRollout(flag, version, statusCode, seconds);
    } else
      metrics?.observeRequest(
        method,
        routeLabel,
        statusCode,
        exchange?.servedBy ?? canary.serviceVersion,
        seconds,
      );
    const capture = state.capture;
    if (state.recording && capture !== undefined && exchange !== undefined) {
      canary.recorder?.record({
        method,
        url: exchange.url,
        headers: exchange.requestHeaders,
        body: capture.request?.toBuffer(),
        bodyTruncated:
          (capture.request?.truncated ?? false) ||
          (hasBody(exchange.requestHeaders) && !capture.requestComplete),
        version:
          exchange.servedBy ??
          (flag === undefined ? canary.serviceVersion : state.canary.evaluate(flag).version),
        status: statusCode,
        responseHeaders: exchange.responseHeaders,
        responseBody: capture.response.toBuffer(),
        responseTruncated: capture.response.truncated,
        durationMs: seconds * 1000,
      });
    }
    if (capture !== undefined && exchange !== undefined && canary.hasShadows) {
      const context = state.canary.context;
      const identity = context.userId ?? context.sessionId;
      canary.mirror({ method, url: exchange.url, identity }, flag, exchange.shadow, () => ({
        method,
        url: exchange.url,
        route: routeLabel,
        headers: exchange.requestHeaders,
        body: capture.request?.toBuffer(),
        // A body nobody read to its end cannot be replayed faithfully: skipped, never sent half.
        bodyTruncated:
          (capture.request?.truncated ?? false) ||
          (hasBody(exchange.requestHeaders) && !capture.requestComplete),
        identity,
        primary: {
          status: statusCode,
          headers: exchange.responseHeaders(),
          body: capture.response.toBuffer(),
          truncated: capture.response.truncated,
        },
      }));
    }
  }
}

/** Whether the request announced a body (RFC 9112 §6.3). */
function hasBody(headers: RequestHeaders): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}
