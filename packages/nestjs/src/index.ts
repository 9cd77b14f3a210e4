export { CanaryFlagGuard, CanaryGuard, type CanaryGuardOptions } from './canary.guard.js';
export { CanaryMiddleware } from './canary.middleware.js';
export { CanaryModule } from './canary.module.js';
export {
  CanaryDecision,
  CanaryFlag,
  CanaryShadow,
  type CanaryShadowOptions,
  InjectCanary,
} from './decorators.js';
export { BODY_PARSER_ORDER_WARNING } from './exchange.js';
export { CanaryHttpBinding } from './http-binding.js';
export { CANARY_VERSION, STABLE_VERSION } from './metadata.js';
export {
  type CanaryModuleAsyncOptions,
  type CanaryModuleRootOptions,
  MODULE_OPTIONS_TOKEN as CANARY_MODULE_OPTIONS,
} from './module-definition.js';
export type { CanaryModuleExtras, CanaryModuleOptions, CanaryNestRequest } from './options.js';
export { getRequestCanary } from './request-state.js';
export { CanaryRouteGuard } from './route.guard.js';
export { type CanaryAppLike, canaryVersionExtractor } from './version-extractor.js';
