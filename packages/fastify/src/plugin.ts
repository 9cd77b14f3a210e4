import { type AdapterOptions, type Canary, type ChangeEvent, RequestBinding } from '@canary-kit/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { isCanaryHandler } from './canary-handler.js';
import { metricsHandler } from './metrics-handler.js';
import { createRequestHooks } from './request-hooks.js';
import { kRoute, kServedBy, kState } from './request-slots.js';
import { parseRouteConfig } from './route-binding.js';
import { createUpstreamHook } from './upstream.js';
import './fastify-types.js';

export interface CanaryPluginOptions extends AdapterOptions<FastifyRequest> {
  /** The Canary returned by `createCanary()`. Its lifecycle is yours: close it after the app. */
  canary: Canary;
  /**
   * Serve the Canary registry's Prometheus exposition on this path (e.g. `'/metrics'`). Off by default: an
   * app often has a metrics endpoint already, and metrics are not always meant to be public. The route is
   * left out of `http_request_duration_seconds`. To guard it with auth, mount `metricsHandler(canary)` yourself.
   */
  metricsRoute?: string | false;
}

/** The package name doubles as the plugin name, so `fastify.hasPlugin('@canary-kit/fastify')` works. */
export const PLUGIN_NAME = '@canary-kit/fastify';

async function canaryKit(fastify: FastifyInstance, options: CanaryPluginOptions): Promise<void> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(
      'canary-kit: register the plugin with options: app.register(canaryPlugin, { canary })',
    );
  }
  const { canary, context, stickyCookie, metricsRoute = false } = options;
  const binding = new RequestBinding<FastifyRequest>(canary, { context, stickyCookie });
  if (metricsRoute !== false && (typeof metricsRoute !== 'string' || !metricsRoute.startsWith('/'))) {
    throw new TypeError(
      `canary-kit: metricsRoute must be a path starting with "/" or false, got ${String(metricsRoute)}`,
    );
  }
  if (fastify.hasRequestDecorator('canary')) {
    throw new Error(
      'canary-kit: request.canary is already decorated in this context — register @canary-kit/fastify once, in the root or one encapsulated context',
    );
  }

  fastify.decorateRequest('canary', null, []);
  fastify.decorateRequest(kState, null, []);
  fastify.decorateRequest(kRoute, null, []);
  fastify.decorateRequest(kServedBy, null, []);
  const shadowNames = new Set(canary.shadows.map((target) => target.name));
  const warnedShadowRoutes = new Set<string>();

  // Routes declared after the plugin loaded: check their binding at registration, where a typo belongs.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const where = `route ${String(route.method)} ${route.url}`;
    const parsed = parseRouteConfig((route.config as { canary?: unknown } | undefined)?.canary, where);
    if (parsed.flag === undefined && isCanaryHandler(route.handler)) {
      throw new TypeError(
        `canary-kit: ${where} uses canaryHandler() but binds no flag; add config: { canary: { flag } }`,
      );
    }
    const targets = parsed.shadow?.targets;
    if (Array.isArray(targets)) {
      const unknown = targets.filter((name) => !shadowNames.has(name));
      // A warning, not an error: an app commonly runs without shadow targets outside production.
      // Once per path: Fastify declares a HEAD route beside every GET with the same config.
      if (unknown.length > 0 && !warnedShadowRoutes.has(route.url)) {
        warnedShadowRoutes.add(route.url);
        fastify.log.warn(
          `canary-kit: ${where}: config.canary.shadow names ${unknown.map((n) => `"${n}"`).join(', ')}, which the Canary has no shadow target called (it has: ${[...shadowNames].join(', ') || 'none'})`,
        );
      }
    }
  });

  const hooks = createRequestHooks(binding);
  fastify.addHook('onRequest', hooks.onRequest);
  fastify.addHook('onResponse', hooks.onResponse);
  if (canary.hasUpstreams) {
    fastify.addHook('preParsing', createUpstreamHook(canary));
  } else {
    // No per-request cost for upstream routing unless some flag has an upstream when the plugin loads. A flag
    // that gains one later (a config change) is served locally: say so rather than ignore it silently.
    let warned = false;
    const onChange = (event: ChangeEvent) => {
      if (warned || event.after?.upstream === undefined) return;
      warned = true;
      fastify.log.warn(
        `canary-kit: flag "${event.flag}" now names an upstream, but the Canary had none when @canary-kit/fastify was registered, so its requests are served locally; restart the app to proxy them`,
      );
    };
    canary.on('change', onChange);
    fastify.addHook('onClose', (_instance, done) => {
      canary.off('change', onChange);
      done();
    });
  }

  if (metricsRoute !== false) {
    fastify.get(metricsRoute, { config: { canary: { metrics: false } } }, metricsHandler(canary));
  }
}

/**
 * Fastify 5 plugin: decorates `request.canary`, binds routes to flags through `config.canary`, records
 * per-version metrics and issues the sticky anonymous-id cookie; with shadow targets configured, captures each
 * exchange (raw request body, response as sent) and mirrors it; proxies the canary share of routes bound to a
 * flag with an `upstream`. Wrapped with fastify-plugin so that
 * registering it in the root makes all of this available to every child context.
 *
 * ```ts
 * app.register(canaryPlugin, { canary, context: (req) => ({ userId: req.headers['x-user-id'] as string }) });
 * ```
 */
export const canaryPlugin: FastifyPluginAsync<CanaryPluginOptions> = fp(canaryKit, {
  name: PLUGIN_NAME,
  fastify: '5.x',
});
