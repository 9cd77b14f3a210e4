import './fastify-types.js';
import { canaryPlugin } from './plugin.js';

export { type CanaryHandlers, canaryHandler } from './canary-handler.js';
export { metricsHandler } from './metrics-handler.js';
export { type CanaryPluginOptions, canaryPlugin, PLUGIN_NAME } from './plugin.js';
export type { CanaryRouteConfig, CanaryShadowOptIn, CanaryShadowTargets } from './route-binding.js';
export { UPSTREAM_BUFFER_BYTES } from './upstream.js';
export default canaryPlugin;
