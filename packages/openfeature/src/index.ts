export {
  CanaryProvider,
  type CanaryProviderOptions,
  createCanaryProvider,
  DEFAULT_READY_TIMEOUT_MS,
  PROVIDER_NAME,
} from './canary-provider.js';
export {
  MAX_GROUPS,
  OVERRIDE_KEY,
  type OverrideSources,
  toEvalContext,
  toOpenFeatureContext,
} from './context-mapping.js';
export { REASON_MAP, resolutionReason } from './reason-mapping.js';
