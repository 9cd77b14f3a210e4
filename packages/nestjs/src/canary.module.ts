import { Canary } from '@canary-kit/core';
import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CanaryFlagGuard } from './canary.guard.js';
import { CanaryMiddleware } from './canary.middleware.js';
import { CanaryHttpBinding } from './http-binding.js';
import { CanaryConfigurableModule } from './module-definition.js';
import { CanaryRouteGuard } from './route.guard.js';

/**
 * canary-kit for a Nest application: `CanaryModule.forRoot({ canary } | { config, context, ... })` or
 * `forRootAsync({ imports, inject, useFactory })`. Provides the `Canary` (inject it by its class), starts
 * every request in a middleware, binds matched routes in a global guard and records per-version metrics
 * when responses finish.
 */
@Module({
  providers: [
    CanaryHttpBinding,
    {
      provide: Canary,
      useFactory: (binding: CanaryHttpBinding) => binding.canary,
      inject: [CanaryHttpBinding],
    },
    { provide: APP_GUARD, useClass: CanaryRouteGuard },
    CanaryFlagGuard,
  ],
  exports: [Canary, CanaryHttpBinding, CanaryFlagGuard],
})
export class CanaryModule extends CanaryConfigurableModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CanaryMiddleware).forRoutes('*');
  }
}
