import type { Canary, Registry } from '@canary-kit/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

function isRegistry(source: unknown): source is Registry {
  // Duck-typed: an app may hold a Registry from its own copy of prom-client.
  const r = source as Registry | null | undefined;
  return typeof r?.metrics === 'function' && typeof r.getSingleMetric === 'function';
}

/**
 * A route handler serving the Prometheus text exposition of a Canary's registry (or of any prom-client
 * Registry) — everything on it, so your own metrics on a shared registry are served too. Mount it yourself
 * to guard or rename it:
 * `app.get('/internal/metrics', { onRequest: auth, config: { canary: { metrics: false } } }, metricsHandler(canary))`.
 */
export function metricsHandler(
  source: Canary | Registry,
): (request: FastifyRequest, reply: FastifyReply) => Promise<string> {
  const registry = isRegistry(source) ? source : source?.metrics?.registry;
  if (registry === undefined) {
    throw new TypeError(
      'canary-kit: metricsHandler needs a prom-client Registry or a Canary with metrics on (created without `metrics: false`)',
    );
  }
  return async function canaryMetrics(_request, reply) {
    reply.type(registry.contentType);
    return registry.metrics();
  };
}
