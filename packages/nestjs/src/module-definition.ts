import { ConfigurableModuleBuilder } from '@nestjs/common';
import { createMetricsController } from './metrics.controller.js';
import type { CanaryModuleExtras, CanaryModuleOptions } from './options.js';

export const {
  ConfigurableModuleClass: CanaryConfigurableModule,
  MODULE_OPTIONS_TOKEN,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CanaryModuleOptions>({ moduleName: 'Canary' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createCanaryOptions')
  .setExtras<CanaryModuleExtras>({ isGlobal: true, metricsPath: undefined }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal !== false,
    controllers: [
      ...(definition.controllers ?? []),
      ...(extras.metricsPath === undefined ? [] : [createMetricsController(extras.metricsPath)]),
    ],
  }))
  .build();

/** `CanaryModule.forRoot()` options: the module options plus `isGlobal` and `metricsPath`. */
export type CanaryModuleRootOptions = typeof OPTIONS_TYPE;
/** `CanaryModule.forRootAsync()` options: `useFactory`/`useClass`/`useExisting`, `imports`, `inject`, extras. */
export type CanaryModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
