import './request-augmentation.js';

export { metricsHandler } from './metrics-handler.js';
export {
  BODY_PARSER_ORDER,
  type CanaryMiddlewareOptions,
  canaryMiddleware,
  type WarningHandler,
} from './middleware.js';
export {
  type BindFlagOptions,
  bindFlag,
  type CanaryRouteHandlers,
  canaryRoute,
  type ShadowOptIn,
  type ShadowTargets,
  shadowRoute,
} from './route.js';
export { BODY_UNAVAILABLE } from './upstream.js';
