import type { IncomingMessage } from 'node:http';
import type { Canary, CanaryConfig, EvalContext, StickyCookieOptions } from '@canary-kit/core';

/**
 * The request `context()` receives: the Node request both platforms share. On platform-express it is the
 * Express `Request`; on platform-fastify the raw `IncomingMessage` (`request.raw`), because Nest middleware
 * runs on the raw request there and custom versioning calls its extractor before Fastify builds a request.
 */
export type CanaryNestRequest = IncomingMessage;

/** What `CanaryModule.forRoot()` (or the factory of `forRootAsync()`) takes. */
export interface CanaryModuleOptions {
  /** A Canary you created (and close yourself). Give either this or `config`. */
  canary?: Canary;
  /** A config to create the Canary from; the module then closes it when the application shuts down. */
  config?: CanaryConfig;
  /**
   * Builds a request's evaluation context, once, when the request arrives (before guards run). A throwing
   * function does not fail the request: it is served by stable, counted and reported via `error`.
   */
  // Method syntax on purpose: parameters are checked bivariantly, so `(req: express.Request) => …` fits.
  context?(req: CanaryNestRequest): EvalContext | null | undefined;
  /** The sticky anonymous-id cookie (see core's `StickyCookieOptions`); `false` turns it off. On by default. */
  stickyCookie?: StickyCookieOptions | false;
  /** Status `@CanaryGuard` answers stable requests with. Default 404, as if the route did not exist. */
  guardStatus?: number;
}

/** Options of `forRoot()` / `forRootAsync()` that shape the module itself rather than the Canary. */
export interface CanaryModuleExtras {
  /** Register the module globally, so `@CanaryGuard` and `Canary` work in every module. Default true. */
  isGlobal?: boolean;
  /** Serve the Prometheus metrics of the Canary's registry at this path (e.g. `/metrics`). Off by default. */
  metricsPath?: string;
}
