import './request-augmentation.js';

export { metricsHandler } from './metrics-handler.js';
export { type CanaryMiddlewareOptions, canaryMiddleware } from './middleware.js';
export { bindFlag, type CanaryRouteHandlers, canaryRoute } from './route.js';
