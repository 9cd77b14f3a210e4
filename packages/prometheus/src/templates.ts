/**
 * PromQL templates: the queries a {@link PrometheusSource} runs per version, with `{{name}}` placeholders filled
 * in at query time. Checked once, at construction, so a typo fails when the app starts, not at the first
 * analysis minutes later.
 */

export interface QueryTemplates {
  /** Requests served by the version in the range: one number. */
  readonly requests: string;
  /** Of those, responses with a 5xx status. An empty result (no 5xx series yet) means 0. */
  readonly errors: string;
  /**
   * One latency quantile in seconds (run for 0.5, 0.95 and 0.99 via `{{quantile}}`); `null` skips latency
   * and the analysis rests on the error checks.
   */
  readonly latency: string | null;
}

/** The placeholders, and where each may appear. */
export const PLACEHOLDERS = {
  /** All label matchers, comma-joined, for inside `{…}`: the source's `selector`, the flag's, `version="…"`. */
  selector: ['requests', 'errors', 'latency'],
  /** The version's label value, `stable` or `canary`. */
  version: ['requests', 'errors', 'latency'],
  /** The range since the step began, whole seconds, PromQL duration syntax: `42s`. */
  range: ['requests', 'errors', 'latency'],
  /** The flag being analysed (for templates that select by a label of your own). */
  flag: ['requests', 'errors', 'latency'],
  /** `0.5`, `0.95` or `0.99`. */
  quantile: ['latency'],
} as const satisfies Record<string, readonly (keyof QueryTemplates)[]>;

export type Placeholder = keyof typeof PLACEHOLDERS;

/**
 * The defaults, over prom-client's `http_request_duration_seconds` histogram that canary-kit records:
 * `increase` of its `_count` for requests and errors (status_code is the numeric status as a string), and
 * `histogram_quantile` over the per-`le` bucket rates for latency.
 */
export const DEFAULT_QUERY_TEMPLATES: QueryTemplates = Object.freeze({
  requests: 'sum(increase(http_request_duration_seconds_count{{{selector}}}[{{range}}]))',
  errors: 'sum(increase(http_request_duration_seconds_count{{{selector}},status_code=~"5.."}[{{range}}]))',
  latency:
    'histogram_quantile({{quantile}}, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[{{range}}])))',
});

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** Problems with one template, as messages; empty when it is usable. */
export function checkTemplate(name: keyof QueryTemplates, template: unknown): string[] {
  if (name === 'latency' && template === null) return [];
  if (typeof template !== 'string' || template.trim() === '') {
    return [`must be a non-empty PromQL string${name === 'latency' ? ' or null' : ''}`];
  }
  const problems: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const key = (match[1] ?? '').trim();
    const allowed = (PLACEHOLDERS as Record<string, readonly string[]>)[key];
    if (allowed === undefined) {
      problems.push(`unknown placeholder {{${key}}}; known: ${Object.keys(PLACEHOLDERS).join(', ')}`);
    } else if (!allowed.includes(name)) {
      problems.push(`{{${key}}} is only filled in ${allowed.join(', ')}`);
    }
  }
  if (name === 'latency' && !/\{\{\s*quantile\s*\}\}/.test(template)) {
    problems.push('must use {{quantile}} (it runs once per quantile: 0.5, 0.95, 0.99)');
  }
  return problems;
}

/** Fills the placeholders (the template has passed `checkTemplate`). */
export function renderTemplate(
  template: string,
  values: Readonly<Partial<Record<Placeholder, string>>>,
): string {
  return template.replace(PLACEHOLDER, (_whole, raw: string) => values[raw.trim() as Placeholder] ?? '');
}
