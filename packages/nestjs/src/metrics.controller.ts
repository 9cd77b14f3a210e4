import { Canary } from '@canary-kit/core';
import { Controller, Get, Inject, NotFoundException, Res, type Type, VERSION_NEUTRAL } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * A controller serving the Canary's Prometheus registry at `path`, version-neutral so that it answers
 * whatever versioning the application uses. Opt-in through `CanaryModule.forRoot({ metricsPath })`.
 */
export function createMetricsController(path: string): Type<unknown> {
  if (typeof path !== 'string' || path.trim() === '' || /[?#]/.test(path)) {
    throw new TypeError(
      `canary-kit: CanaryModule \`metricsPath\` must be a route path like "/metrics", got ${JSON.stringify(path)}`,
    );
  }

  @Controller({ path, version: VERSION_NEUTRAL })
  class CanaryMetricsController {
    constructor(
      @Inject(Canary) private readonly canary: Canary,
      @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    ) {}

    @Get()
    async scrape(@Res({ passthrough: true }) response: unknown): Promise<string> {
      const registry = this.canary.metrics?.registry;
      if (registry === undefined) throw new NotFoundException('canary-kit metrics are off (metrics: false)');
      this.host.httpAdapter.setHeader(response, 'Content-Type', registry.contentType);
      return registry.metrics();
    }
  }
  return CanaryMetricsController;
}
