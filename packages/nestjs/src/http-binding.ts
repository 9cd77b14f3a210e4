import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Canary, createCanary, RequestBinding, type RouteShadowOptIn, type Version } from '@canary-kit/core';
import {
  type ExecutionContext,
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  BODY_PARSER_ORDER_MESSAGE,
  BODY_PARSER_ORDER_WARNING,
  captureRequest,
  captureResponse,
  sentHeaders,
} from './exchange.js';
import {
  CANARY_FLAG_METADATA,
  CANARY_SHADOW_METADATA,
  CANARY_VERSION,
  checkStatus,
  NEST_PATH_METADATA,
  NEST_VERSION_METADATA,
  STABLE_VERSION,
} from './metadata.js';
import { MODULE_OPTIONS_TOKEN } from './module-definition.js';
import type { CanaryModuleOptions } from './options.js';
import {
  attachState,
  type NestRequestState,
  platformRoute,
  rawRequest,
  rawResponse,
  stateOf,
} from './request-state.js';
import { proxyToUpstream } from './upstream.js';

function resolveCanary(options: CanaryModuleOptions | undefined): { canary: Canary; owned: boolean } {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('canary-kit: CanaryModule needs options: { canary } or { config }');
  }
  if (options.canary !== undefined && options.config !== undefined) {
    throw new TypeError(
      'canary-kit: CanaryModule takes either `canary` (an existing Canary) or `config`, not both',
    );
  }
  if (options.canary !== undefined) {
    if (!(options.canary instanceof Canary) && typeof (options.canary as Canary)?.forContext !== 'function') {
      throw new TypeError('canary-kit: CanaryModule `canary` must be the Canary returned by createCanary()');
    }
    return { canary: options.canary, owned: false };
  }
  if (options.config === undefined) {
    throw new TypeError(
      'canary-kit: CanaryModule needs `canary` (an existing Canary) or `config` to create one',
    );
  }
  return { canary: createCanary(options.config), owned: true };
}

function isSecure(req: IncomingMessage): boolean {
  // Express's `req.secure` honours `trust proxy`; a raw request only knows its own socket.
  const secure = (req as { secure?: unknown }).secure;
  return typeof secure === 'boolean' ? secure : (req.socket as TLSSocket | undefined)?.encrypted === true;
}

function hasVersion(versions: unknown): boolean {
  const list = Array.isArray(versions) ? versions : [versions];
  return list.includes(CANARY_VERSION) || list.includes(STABLE_VERSION);
}

/** `/${controller path}/${handler path}` from Nest's metadata, for platforms that expose no route pattern. */
function nestRoute(context: ExecutionContext): string | undefined {
  const first = (value: unknown) => (Array.isArray(value) ? value[0] : value);
  const controller = first(Reflect.getMetadata(NEST_PATH_METADATA, context.getClass()));
  const handler = first(Reflect.getMetadata(NEST_PATH_METADATA, context.getHandler()));
  if (typeof controller !== 'string' && typeof handler !== 'string') return undefined;
  const path = [controller, handler]
    .filter((p): p is string => typeof p === 'string')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
  return `/${path}`;
}

/**
 * Binds a Canary to Nest's HTTP platform. Every request goes through three places:
 * - `begin`: the request starts — context, decisions, sticky cookie, raw body capture (middleware, or the
 *   versioning extractor on Fastify, which runs first), response capture;
 * - `bindRoute` / `route`: a route matched — its pattern, the flag it is bound to and its shadow opt-in are
 *   known, and a canary request to an upstream-bound route is proxied (global guard);
 * - `#finish`: the response has been sent — metrics, shadow copies.
 */
@Injectable()
export class CanaryHttpBinding implements OnModuleInit, OnApplicationShutdown {
  readonly canary: Canary;
  /** Status `@CanaryGuard` answers stable requests with, unless the decorator says otherwise. */
  readonly guardStatus: number;
  readonly #binding: RequestBinding<IncomingMessage>;
  readonly #owned: boolean;
  readonly #reflector: Reflector;
  #warnedBodyParserOrder = false;

  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) options: CanaryModuleOptions,
    @Inject(Reflector) reflector: Reflector,
  ) {
    const { canary, owned } = resolveCanary(options);
    this.guardStatus = checkStatus(options.guardStatus, 'CanaryModule `guardStatus`') ?? 404;
    this.canary = canary;
    this.#owned = owned;
    this.#reflector = reflector;
    const context = options.context;
    this.#binding = new RequestBinding<IncomingMessage>(canary, {
      context: context === undefined ? undefined : (req) => context.call(options, req),
      stickyCookie: options.stickyCookie,
    });
  }

  /** Serve no request before the store's config has been applied. */
  async onModuleInit(): Promise<void> {
    await this.canary.ready();
  }

  /** A Canary the module created from `config` is the module's to close. */
  async onApplicationShutdown(): Promise<void> {
    if (this.#owned) await this.canary.close();
  }

  /**
   * The request's state, created on first call. With a response, also issues the sticky cookie and
   * watches for the end of the response (once).
   */
  begin(req: IncomingMessage, res?: ServerResponse): NestRequestState {
    let state = stateOf(req);
    if (state === undefined) {
      state = {
        core: this.#binding.start(
          req,
          req.headers,
          () => isSecure(req),
          req.method ?? 'GET',
          (req as { originalUrl?: string }).originalUrl ?? req.url,
        ),
        response: undefined,
        route: undefined,
        flag: undefined,
        versionFlag: undefined,
        bound: false,
        shadow: undefined,
        failedOver: undefined,
        writtenHeaders: undefined,
      };
      attachState(req, state);
      const capture = state.core.capture;
      if (capture !== undefined && !captureRequest(req, capture)) this.warnBodyParserOrder();
    }
    if (res !== undefined && state.response === undefined) {
      state.response = res;
      const cookie = state.core.setCookie;
      if (cookie !== undefined && !res.headersSent) res.appendHeader('Set-Cookie', cookie);
      const capture = state.core.capture;
      if (capture !== undefined) captureResponse(res, capture, state);
      const finished = state;
      res.once('finish', () => this.#finish(req, res, finished));
    }
    return state;
  }

  /**
   * A route matched: records its pattern and the flag it is bound to. Idempotent; called by the global
   * route guard and by `@CanaryGuard`'s guard.
   */
  bindRoute(context: ExecutionContext): NestRequestState {
    const http = context.switchToHttp();
    const request = http.getRequest<unknown>();
    const response = http.getResponse<unknown>();
    const res = rawResponse(response);
    const state = this.begin(rawRequest(request), res);
    if (state.bound) return state;
    state.bound = true;
    state.route = platformRoute(request) ?? nestRoute(context);
    const targets = [context.getHandler(), context.getClass()];
    const flag = this.#reflector.getAllAndOverride<string | undefined>(CANARY_FLAG_METADATA, targets);
    state.shadow = this.#reflector.getAllAndOverride<RouteShadowOptIn | undefined>(
      CANARY_SHADOW_METADATA,
      targets,
    );
    if (flag !== undefined) state.flag = flag;
    else if (
      state.versionFlag !== undefined &&
      hasVersion(this.#reflector.getAllAndOverride<unknown>(NEST_VERSION_METADATA, targets))
    ) {
      state.flag = state.versionFlag;
    }
    // Fastify writes its reply's own headers with writeHead(), replacing a Set-Cookie set on the raw response
    // when the handler sets cookies too: keep the sticky id among them.
    const cookie = state.core.setCookie;
    const reply = response as { header?: (name: string, value: string) => unknown } | null;
    if (cookie !== undefined && response !== res && typeof reply?.header === 'function' && !res.headersSent) {
      reply.header('set-cookie', cookie);
    }
    return state;
  }

  /**
   * Binds the matched route (see `bindRoute`) and, when it is bound by `@CanaryFlag`/`@CanaryGuard` to a flag
   * with an `upstream` and the request is on the canary, proxies it there. `true`: Nest goes on and the local
   * handler serves (a stable request, or a failover). Otherwise a promise: `true` after a failover, or never
   * settling once canary-kit has answered the request itself.
   */
  route(context: ExecutionContext): boolean | Promise<boolean> {
    const state = this.bindRoute(context);
    const canary = this.canary;
    if (!canary.hasUpstreams) return true;
    const flag = this.#reflector.getAllAndOverride<string | undefined>(CANARY_FLAG_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (flag === undefined || state.failedOver !== undefined) return true;
    const upstream = canary.upstreamFor(flag);
    if (upstream === undefined || !state.core.canary.isCanary(flag)) return true;
    const http = context.switchToHttp();
    const platformRequest = http.getRequest<unknown>();
    const platformResponse = http.getResponse<unknown>();
    const req = rawRequest(platformRequest);
    return proxyToUpstream({
      canary,
      flag,
      upstream,
      req,
      res: rawResponse(platformResponse),
      platformRequest,
      platformResponse,
      state,
      secure: isSecure(req),
      onBodyUnavailable: () => this.warnBodyParserOrder(),
    }).catch((error: unknown) => {
      // Never reached in practice (the proxy reports its failures); served locally rather than failed.
      canary.reportError(error);
      state.failedOver = flag;
      return true;
    });
  }

  /** The body-parser-order warning (`CANARY_KIT_BODY_PARSER_ORDER`), once per application. */
  warnBodyParserOrder(): void {
    if (this.#warnedBodyParserOrder) return;
    this.#warnedBodyParserOrder = true;
    process.emitWarning(BODY_PARSER_ORDER_MESSAGE, {
      type: 'CanaryKitWarning',
      code: BODY_PARSER_ORDER_WARNING,
    });
  }

  /** The version the custom-versioning extractor returns for `flag`. Never throws: stable on any failure. */
  extractVersion(request: unknown, flag: string): Version {
    try {
      const state = this.begin(rawRequest(request));
      state.versionFlag = flag;
      return state.core.canary.evaluate(flag).version;
    } catch {
      return STABLE_VERSION;
    }
  }

  #finish(req: IncomingMessage, res: ServerResponse, state: NestRequestState): void {
    try {
      // On Express the matched route is on the request even when a guard rejected before ours ran.
      const route = state.route ?? platformRoute(req);
      this.#binding.finish(state.core, req.method ?? 'GET', route, res.statusCode, state.flag, {
        url: (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/',
        requestHeaders: req.headers,
        responseHeaders: () => sentHeaders(res, state),
        shadow: state.shadow,
        servedBy:
          state.failedOver !== undefined && state.failedOver === state.flag ? STABLE_VERSION : undefined,
      });
    } catch (error) {
      // Metrics never fail a response, and this runs in an event listener where a throw would crash
      // the process: report it instead.
      this.#binding.canary.reportError(error);
    }
  }
}
