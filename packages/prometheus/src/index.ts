export { type InstantQuery, queryNumber } from './http-api.js';
export {
  type FlagQueryOptions,
  PrometheusSource,
  type PrometheusSourceOptions,
  type PrometheusSourceStats,
} from './prometheus-source.js';
export { escapeRegex, promString, routeMatcher, selectorProblem } from './selector.js';
export {
  checkTemplate,
  DEFAULT_QUERY_TEMPLATES,
  PLACEHOLDERS,
  type Placeholder,
  type QueryTemplates,
  renderTemplate,
} from './templates.js';
