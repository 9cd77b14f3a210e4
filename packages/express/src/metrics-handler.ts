import type { Canary, Registry } from '@canary-kit/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Serves the Prometheus exposition of `source` — a Canary's registry (which also holds your own metrics if
 * you passed your Registry to `createCanary`) or any prom-client Registry. Mount it with `app.get('/metrics', ...)`.
 */
export function metricsHandler(source: Canary | Registry): RequestHandler {
  const registry = isRegistry(source) ? source : source?.metrics?.registry;
  if (registry === undefined) {
    throw new TypeError(
      'canary-kit: metricsHandler() needs a Canary created with metrics on (not `metrics: false`) or a prom-client Registry',
    );
  }
  return function canaryKitMetrics(_req: Request, res: Response, next: NextFunction): void {
    registry.metrics().then(
      (text) => {
        res.setHeader('Content-Type', registry.contentType);
        res.end(text);
      },
      (error: unknown) => next(error ?? new Error('collecting metrics failed')),
    );
  };
}

function isRegistry(source: unknown): source is Registry {
  return (
    source !== null &&
    typeof source === 'object' &&
    typeof (source as Registry).metrics === 'function' &&
    typeof (source as Registry).contentType === 'string'
  );
}
