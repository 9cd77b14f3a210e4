export { Registry } from 'prom-client';
export {
  type AnalysisResult,
  analyze,
  type CheckName,
  type CheckResult,
  type CheckStatus,
  type CheckTest,
  type LatencyBasis,
  MIN_LATENCY_SAMPLES,
  type Verdict,
  type VersionSummary,
} from './analysis/analyze.js';
export { type Random, seededRandom } from './analysis/random.js';
export {
  type AnalysisInput,
  type AnalysisSnapshot,
  type AnalysisSource,
  InProcessSource,
  type VersionSamples,
} from './analysis/source.js';
export {
  binomialSf,
  errorRateTest,
  fisherExactGreater,
  type MannWhitneyResult,
  mannWhitneyU,
  mannWhitneyUSorted,
  normalCdf,
  normalSf,
  type ProportionTest,
  quantile,
  quantileSorted,
  twoProportionZTest,
} from './analysis/stats.js';
export {
  type AnalysisThresholds,
  type AnalysisThresholdsInput,
  DEFAULT_THRESHOLDS,
  resolveThresholds,
} from './analysis/thresholds.js';
export {
  AnalysisWindows,
  type AnalysisWindowsOptions,
  DEFAULT_MAX_WINDOWS,
  DEFAULT_RESERVOIR_SIZE,
  VersionWindow,
} from './analysis/window.js';
export { Canary, type CanaryStats, createCanary, RequestCanary } from './canary.js';
export { captureRequestBody, captureResponseBody } from './capture/attach.js';
export { BoundedBuffer } from './capture/bounded-buffer.js';
export { CanaryConfigError, type ConfigIssue } from './config/errors.js';
export type {
  Bucketing,
  CanaryConfig,
  FlagConfig,
  FlagConfigInput,
  FlagsConfig,
  FlagsConfigInput,
  MetricsConfig,
  NormalizedUpstream,
  OverridesConfig,
  RuleConfig,
  RuleOperator,
  ServiceConfig,
  UpstreamConfig,
} from './config/types.js';
export { RULE_OPERATORS } from './config/types.js';
export { parseConfig, parseFlags } from './config/validate.js';
export type { RolloutConfig, RolloutRuntimeConfig } from './config/validate-rollout.js';
export { DEFAULT_STEPS } from './config/validate-rollout.js';
export type { ShadowConfig } from './config/validate-shadow.js';
export {
  type CapturedResponse,
  compareResponses,
  type ResponseDiff,
  type ResponseOutcome,
  type ResponseSkipReason,
} from './diff/compare-responses.js';
export {
  compareValues,
  type Difference,
  type DifferenceKind,
  type ValueDiff,
  type ValueSkipReason,
} from './diff/compare-values.js';
export {
  type DecodeFailure,
  type DecodeOptions,
  type DecodeResult,
  decodeBody,
  parseContentEncoding,
} from './diff/decode-body.js';
export {
  type FieldNoise,
  fieldOf,
  NoiseFilter,
  type NoiseFilterOptions,
  type NoiseReport,
} from './diff/noise.js';
export {
  type ArrayOrder,
  type CompiledDiffOptions,
  compileDiffOptions,
  type DiffOptions,
  type ResponseDiffOptions,
  type Tolerance,
} from './diff/options.js';
export { type Murmur3State, murmur3, murmur3Prefix, murmur3Resume } from './evaluation/murmur3.js';
export { compareSemver, parseSemver, type Semver } from './evaluation/semver.js';
export { murmur3CharCodes, unleashNormalizedValue } from './evaluation/unleash-hash.js';
export type {
  CanaryEventName,
  CanaryEvents,
  CanaryWarning,
  ChangeEvent,
  ChangeSource,
  MismatchEvent,
  ShadowMismatchEvent,
  WarningCode,
} from './events.js';
export {
  EXPERIMENT_OUTCOMES,
  type ExperimentMismatchEvent,
  type ExperimentOutcome,
} from './experiment/experiment.js';
export { type Experiment, MAX_EXPERIMENTS } from './experiment/experiments.js';
export {
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_TIMEOUT_MS,
  type ExperimentCall,
  type ExperimentOptions,
  type ExperimentSettings,
} from './experiment/options.js';
export { readCookie, serializeCookie } from './http/cookies.js';
export {
  type AdapterOptions,
  ExchangeCapture,
  type ExchangeInfo,
  RequestBinding,
  type RequestHeaders,
  type RequestState,
  type StickyCookieOptions,
} from './http/request-binding.js';
export { JsonlWriter, type JsonlWriterOptions } from './io/jsonl-writer.js';
export {
  DEFAULT_BUCKETS,
  EXPERIMENT_BUCKETS,
  type MetricsSource,
  metricsFor,
  RegistryMetrics,
  UNMATCHED_ROUTE,
} from './metrics/canary-metrics.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './outbound/circuit-breaker.js';
export { inboundHeaders, outboundHeaders, SECRET_HEADERS } from './outbound/headers.js';
export {
  OutboundClient,
  type OutboundClientOptions,
  OutboundError,
  type OutboundFailure,
  type OutboundRequest,
  type OutboundResponse,
} from './outbound/http-client.js';
export {
  MAX_OVERRIDE_LENGTH,
  type OverrideOutcome,
  type OverrideValue,
  type SignOverrideOptions,
  signOverride,
} from './overrides/parse.js';
export type { OverrideSource } from './overrides/resolve.js';
export {
  DEFAULT_REDACT,
  type NormalizedRecorder,
  RECORDER_DEFAULTS,
  type RecorderConfig,
  validateRecorder,
} from './recorder/config.js';
export {
  RECORDING_VERSION,
  type ReadRecord,
  type RecordedHeaderMap,
  type RecordV1,
} from './recorder/format.js';
export { parseRecord } from './recorder/parse-record.js';
export {
  type ReadRecordingsOptions,
  type RecordingLine,
  readRecordings,
  recordingFiles,
} from './recorder/read-recording.js';
export {
  RECORDER_OUTCOMES,
  type RecordedExchange,
  Recorder,
  type RecorderCounts,
  type RecorderHooks,
  type RecorderOutcome,
} from './recorder/recorder.js';
export { REDACTED, Redactor } from './recorder/redact.js';
export type {
  AnalysisEvent,
  CompleteEvent,
  PromoteEvent,
  RollbackEvent,
  StepEvent,
} from './rollout/controller.js';
export type { WebhookConfig } from './rollout/webhook.js';
export type {
  CapturedExchange,
  RouteShadowOptIn,
  ShadowOutcome,
} from './shadow/shadow-target.js';
export { SHADOW_HEADER, SHADOW_OUTCOMES, ShadowTarget, WRITE_METHODS } from './shadow/shadow-target.js';
export { createFileStore, FileStore, type FileStoreOptions } from './stores/file-store.js';
export { createMemoryStore, MemoryStore } from './stores/memory-store.js';
export type {
  CanaryStore,
  RolloutPhase,
  RolloutState,
  SaveOptions,
  SaveResult,
  StoreContent,
  StoreDocument,
  StoreListener,
} from './stores/store.js';
export {
  type AttributeValue,
  type Decision,
  type EvalContext,
  type OverrideInput,
  REASONS,
  type Reason,
  type Version,
} from './types.js';
export {
  FAILOVER_REASONS,
  type FailoverReason,
  type ForwardRequest,
  type ForwardResult,
  IDEMPOTENT,
  UpstreamProxy,
} from './upstream/upstream-proxy.js';
