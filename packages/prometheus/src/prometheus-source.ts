import {
  type AnalysisSnapshot,
  type AnalysisSource,
  CanaryConfigError,
  type ConfigIssue,
  type Version,
  type VersionSamples,
} from '@canary-kit/core';
import { queryNumber } from './http-api.js';
import { joinMatchers, promString, routeMatcher, selectorProblem } from './selector.js';
import {
  checkTemplate,
  DEFAULT_QUERY_TEMPLATES,
  type Placeholder,
  type QueryTemplates,
  renderTemplate,
} from './templates.js';

/** How one flag's requests are picked out of the histogram, which has no flag label. */
export interface FlagQueryOptions {
  /** Extra label matchers for this flag, e.g. `route=~"/checkout.*"`. */
  readonly selector?: string;
  /** The route patterns bound to the flag, as the `route` label has them (`/orders/:id`); matched exactly. */
  readonly routes?: readonly string[];
}

export interface PrometheusSourceOptions {
  /** Prometheus (or a compatible API: Thanos, Mimir, VictoriaMetrics) base URL, e.g. `http://prometheus:9090`. */
  readonly url: string;
  /** Label matchers every query gets, without braces: `job="checkout",namespace="prod"`. */
  readonly selector?: string;
  /** Per-flag matchers. A flag not listed is analysed on every route of the selected series. */
  readonly flags?: Readonly<Record<string, FlagQueryOptions>>;
  /** Overrides of the default PromQL templates (placeholders: docs/analysis.md#prometheus-source). */
  readonly queries?: Partial<QueryTemplates>;
  /** Prometheus' scrape interval for these targets: the range is never shorter than two of them. Default 15,000. */
  readonly scrapeIntervalMs?: number;
  /** Deadline of one snapshot (all its queries run at once), ms. Default 5,000. */
  readonly timeoutMs?: number;
  /** Sent with every query, e.g. `{ authorization: 'Bearer …' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use (a proxy-aware one, or a test double). Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Snapshots running at once, over all flags (one per flag at most). Default 16. */
  readonly maxConcurrentSnapshots?: number;
  /** Clock, ms since the epoch. */
  readonly now?: () => number;
}

/** What the source has done, for dashboards and tests. */
export interface PrometheusSourceStats {
  /** Snapshots that resolved. */
  readonly snapshots: number;
  /** Snapshots that rejected because Prometheus failed them (unreachable, timeout, error, bad answer). */
  readonly failures: number;
  /** Snapshots refused without a query: one for the flag already running, or `maxConcurrentSnapshots` reached. */
  readonly rejected: number;
}

const QUANTILES = [
  ['p50', '0.5'],
  ['p95', '0.95'],
  ['p99', '0.99'],
] as const;
const VERSIONS: readonly Version[] = ['stable', 'canary'];
const MAX_BODY_BYTES = 1 << 20;

/**
 * An {@link AnalysisSource} over Prometheus: per-version request and 5xx counts and latency quantiles from the
 * `http_request_duration_seconds` series every replica exports, so the rollout controller judges the whole
 * fleet's traffic rather than its own process's. Gives quantiles without samples: the analysis compares them
 * and tests only the error rates (docs/analysis.md#sources-with-quantiles-and-no-samples).
 */
export class PrometheusSource implements AnalysisSource {
  readonly kind = 'prometheus';
  readonly url: string;
  readonly templates: QueryTemplates;
  readonly #selector: string;
  readonly #flagSelectors = new Map<string, string>();
  readonly #minRangeSeconds: number;
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #fetch: typeof fetch;
  readonly #maxConcurrent: number;
  readonly #now: () => number;
  readonly #inFlight = new Set<string>();
  #snapshots = 0;
  #failures = 0;
  #rejected = 0;

  constructor(options: PrometheusSourceOptions) {
    const issues: ConfigIssue[] = [];
    const at = (key: string) => `PrometheusSource.${key}`;
    const o = (options ?? {}) as Partial<PrometheusSourceOptions>;

    this.url = '';
    try {
      const url = new URL(String(o.url));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
      this.url = url.href.replace(/\/+$/, '');
    } catch {
      issues.push({
        path: at('url'),
        message: `must be an http(s) URL such as http://prometheus:9090, got ${JSON.stringify(o.url)}`,
      });
    }

    const selector = o.selector ?? '';
    const problem = typeof selector === 'string' ? selectorProblem(selector) : 'must be a string';
    if (problem) issues.push({ path: at('selector'), message: problem });
    this.#selector = problem ? '' : selector;

    for (const [flag, f] of Object.entries(o.flags ?? {})) {
      const path = at(`flags.${flag}`);
      const own = f?.selector ?? '';
      const ownProblem = typeof own === 'string' ? selectorProblem(own) : 'must be a string';
      if (ownProblem) issues.push({ path: `${path}.selector`, message: ownProblem });
      const routes = f?.routes;
      const routesOk =
        routes === undefined ||
        (Array.isArray(routes) &&
          routes.length > 0 &&
          routes.every((r) => typeof r === 'string' && r !== ''));
      if (!routesOk)
        issues.push({ path: `${path}.routes`, message: 'must be a non-empty array of route patterns' });
      if (!ownProblem && routesOk) {
        this.#flagSelectors.set(flag, joinMatchers(own, routes ? routeMatcher(routes) : undefined));
      }
    }

    const templates = { ...DEFAULT_QUERY_TEMPLATES };
    for (const [name, template] of Object.entries(o.queries ?? {})) {
      if (!(name in DEFAULT_QUERY_TEMPLATES)) {
        issues.push({
          path: at(`queries.${name}`),
          message: 'unknown query; known: requests, errors, latency',
        });
        continue;
      }
      const key = name as keyof QueryTemplates;
      if (template === undefined) continue;
      const problems = checkTemplate(key, template);
      for (const message of problems) issues.push({ path: at(`queries.${name}`), message });
      if (problems.length === 0) (templates as Record<string, string | null>)[key] = template;
    }
    this.templates = Object.freeze(templates);

    const scrapeIntervalMs = positive(o.scrapeIntervalMs, 15_000, at('scrapeIntervalMs'), issues);
    this.#minRangeSeconds = Math.max(1, Math.ceil((2 * scrapeIntervalMs) / 1000));
    this.#timeoutMs = positive(o.timeoutMs, 5000, at('timeoutMs'), issues);
    this.#maxConcurrent = positive(o.maxConcurrentSnapshots, 16, at('maxConcurrentSnapshots'), issues);

    const headers = o.headers ?? {};
    if (
      headers === null ||
      typeof headers !== 'object' ||
      !Object.values(headers).every((h) => typeof h === 'string')
    ) {
      issues.push({ path: at('headers'), message: 'must map header names to strings' });
    }
    this.#headers = { ...headers };
    const f = o.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') issues.push({ path: at('fetch'), message: 'must be a fetch function' });
    this.#fetch = f;
    this.#now = o.now ?? Date.now;
    if (issues.length > 0) throw new CanaryConfigError(issues);
  }

  get stats(): PrometheusSourceStats {
    return { snapshots: this.#snapshots, failures: this.#failures, rejected: this.#rejected };
  }

  /** The label matchers a flag's queries use for `version` (what `{{selector}}` becomes). */
  selectorFor(flag: string, version: Version): string {
    return joinMatchers(this.#selector, this.#flagSelectors.get(flag), `version=${promString(version)}`);
  }

  /** The PromQL a snapshot of `flag` runs for `version` over `rangeSeconds`, by name (for docs and debugging). */
  queriesFor(flag: string, version: Version, rangeSeconds: number): Record<string, string> {
    const values: Partial<Record<Placeholder, string>> = {
      selector: this.selectorFor(flag, version),
      version,
      range: `${rangeSeconds}s`,
      flag,
    };
    const t = this.templates;
    const out: Record<string, string> = {
      requests: renderTemplate(t.requests, values),
      errors: renderTemplate(t.errors, values),
    };
    if (t.latency !== null) {
      for (const [name, q] of QUANTILES) out[name] = renderTemplate(t.latency, { ...values, quantile: q });
    }
    return out;
  }

  /**
   * The flag's per-version data from `sinceMs` to now. Rejects (the controller then holds the step) when
   * Prometheus is unreachable, slow past `timeoutMs`, answers an error or something that is not one number per
   * query — and at once when a snapshot of the same flag is still running.
   */
  async snapshot(flag: string, sinceMs: number): Promise<AnalysisSnapshot> {
    if (this.#inFlight.has(flag) || this.#inFlight.size >= this.#maxConcurrent) {
      this.#rejected++;
      throw new Error(
        this.#inFlight.has(flag)
          ? `PrometheusSource: a snapshot of "${flag}" is still running; not starting another`
          : `PrometheusSource: ${this.#inFlight.size} snapshots running (maxConcurrentSnapshots); not starting one for "${flag}"`,
      );
    }
    this.#inFlight.add(flag);
    try {
      const result = await this.#query(flag, sinceMs);
      this.#snapshots++;
      return result;
    } catch (error) {
      this.#failures++;
      throw error;
    } finally {
      this.#inFlight.delete(flag);
    }
  }

  async #query(flag: string, sinceMs: number): Promise<AnalysisSnapshot> {
    const to = this.#now();
    // Whole seconds, rounded up so the step's first request is inside; never under two scrapes, the least
    // `increase`/`rate` can compute from (so early in a step the range reaches back before it).
    const elapsed = Number.isFinite(sinceMs) ? Math.ceil((to - sinceMs) / 1000) : 0;
    const rangeSeconds = Math.max(this.#minRangeSeconds, elapsed);
    // One deadline for the whole set, and one abort for the rest when any query fails.
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const failFast = new AbortController();
    const signal = AbortSignal.any([deadline, failFast.signal]);
    const run = (query: string) =>
      queryNumber({
        base: this.url,
        query,
        timeMs: to,
        signal,
        timeoutMs: this.#timeoutMs,
        headers: this.#headers,
        fetch: this.#fetch,
        maxBodyBytes: MAX_BODY_BYTES,
      }).catch((error: unknown) => {
        failFast.abort(new Error('another query of the snapshot failed'));
        throw error;
      });
    const all = Promise.all(
      VERSIONS.map(async (version): Promise<VersionSamples> => {
        const queries = this.queriesFor(flag, version, rangeSeconds);
        const names = Object.keys(queries);
        const values = await Promise.all(names.map((name) => run(queries[name] as string)));
        const byName = Object.fromEntries(names.map((name, i) => [name, values[i]]));
        return {
          // No series at all: nothing served (requests) or nothing failed (errors) — zero, not "no data".
          requests: byName.requests ?? 0,
          errors: byName.errors ?? 0,
          ...quantile('p50', byName.p50),
          ...quantile('p95', byName.p95),
          ...quantile('p99', byName.p99),
        };
      }),
    );
    // The deadline holds even for a `fetch` of the user's that ignores its signal: the snapshot never hangs.
    let onDeadline: (() => void) | undefined;
    const overdue = new Promise<never>((_, reject) => {
      onDeadline = () =>
        reject(
          new Error(`Prometheus at ${this.url} did not answer within ${this.#timeoutMs} ms (flag ${flag})`),
        );
      deadline.addEventListener('abort', onDeadline, { once: true });
    });
    try {
      const [stable, canary] = await Promise.race([all, overdue]);
      return { flag, from: to - rangeSeconds * 1000, to, stable: stable!, canary: canary! };
    } finally {
      deadline.removeEventListener('abort', onDeadline!);
      all.catch(() => {}); // settled later, or never, by a fetch that ignored the abort
    }
  }
}

/** A quantile only when Prometheus had data for it: NaN (no requests in range) and no series leave it out. */
function quantile(name: 'p50' | 'p95' | 'p99', value: number | undefined): Partial<VersionSamples> {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? { [name]: value } : {};
}

function positive(value: unknown, fallback: number, path: string, issues: ConfigIssue[]): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    issues.push({ path, message: `must be a positive number, got ${JSON.stringify(value)}` });
    return fallback;
  }
  return value;
}
