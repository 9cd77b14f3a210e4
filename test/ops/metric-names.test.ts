// Every metric the dashboard and the alerting rules query is one canary-kit actually exports, with the labels and
// label values they select on — checked against a live `/metrics` scrape of a real service on each adapter, with
// every feature on and traffic through it, not against a list typed by hand. And the other way round: every
// metric family canary-kit exports has a place on the dashboard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sample } from '../helpers/exposition.js';
import { allQueries, type Query } from './assets.js';
import { type AdapterName, driveUntilComplete, type OpsApp, startOpsApp } from './live-app.js';
import { analyzeQuery, parseLabelValues, type Selector } from './promql.js';

/** Labels Prometheus adds to every scraped series (target labels), and the name label. */
const TARGET_LABELS = new Set(['job', 'instance', '__name__']);

/** sample name → label name → values seen. */
type Index = Map<string, Map<string, Set<string>>>;

function indexOf(samples: readonly Sample[]): Index {
  const index: Index = new Map();
  for (const s of samples) {
    const labels = index.get(s.name) ?? new Map<string, Set<string>>();
    index.set(s.name, labels);
    for (const [k, v] of Object.entries(s.labels)) labels.set(k, (labels.get(k) ?? new Set()).add(v));
  }
  return index;
}

interface Use {
  readonly query: Query;
  readonly selectors: readonly Selector[];
  /** Label names the query needs on each of `selectors` (grouping clauses). */
  readonly needs: { labels: readonly string[]; selectors: readonly Selector[]; anyOf: boolean }[];
}

function uses(): Use[] {
  return allQueries().map((query) => {
    if (query.kind === 'variable') {
      const { expr, label } = parseLabelValues(query.expr);
      const { selectors } = analyzeQuery(expr ?? '');
      return { query, selectors, needs: [{ labels: [label], selectors, anyOf: false }] };
    }
    const { selectors, groupings } = analyzeQuery(query.expr);
    return {
      query,
      selectors,
      needs: groupings.map((g) => ({
        labels: g.labels,
        selectors: g.selectors,
        // `by`/`without` labels must be on every series aggregated; matching labels on one side at least
        anyOf: g.keyword !== 'by' && g.keyword !== 'without',
      })),
    };
  });
}

const isVariable = (value: string) => /\$|\[\[/.test(value);

/** For `a|b|c` made of plain words: the words; else undefined (a real pattern). */
function literalAlternatives(pattern: string): string[] | undefined {
  return /^[\w-]+(?:\|[\w-]+)*$/.test(pattern) ? pattern.split('|') : undefined;
}

/** What is wrong with one selector against the scrape, if anything. */
function problemsOf(selector: Selector, index: Index): string[] {
  const name = selector.name;
  if (name === undefined) return ['a selector without a metric name'];
  const labels = index.get(name);
  if (!labels) return [`${name} is not exported`];
  const problems: string[] = [];
  for (const m of selector.matchers) {
    if (TARGET_LABELS.has(m.label)) continue;
    const values = labels.get(m.label);
    if (!values) {
      problems.push(`${name} has no label ${m.label} (it has ${[...labels.keys()].join(', ') || 'none'})`);
      continue;
    }
    if (isVariable(m.value) || m.op === '!=' || m.op === '!~') continue;
    const seen = [...values];
    if (m.op === '=') {
      if (!values.has(m.value))
        problems.push(`${name}{${m.label}="${m.value}"} never occurs (seen: ${seen})`);
      continue;
    }
    const alternatives = literalAlternatives(m.value);
    if (alternatives) {
      for (const a of alternatives)
        if (!values.has(a)) problems.push(`${name}{${m.label}=~"…${a}…"}: ${a} never occurs (seen: ${seen})`);
    } else {
      const re = new RegExp(`^(?:${m.value})$`);
      if (!seen.some((v) => re.test(v)))
        problems.push(`${name}{${m.label}=~"${m.value}"} matches no value (seen: ${seen})`);
    }
  }
  return problems;
}

/** The metric families a scrape declares (`# TYPE`), with or without samples yet. */
function declaredFamilies(text: string): string[] {
  return [...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) \w+$/gm)].map((m) => m[1]!);
}

const ADAPTERS: readonly AdapterName[] = ['Express 5', 'Fastify 5'];

describe.each(ADAPTERS)('the ops assets against a live %s service', (adapter) => {
  let app: OpsApp;
  let index: Index;
  let text: string;

  beforeAll(async () => {
    app = await startOpsApp(adapter);
    index = indexOf(await driveUntilComplete(app.base));
    text = await (await fetch(`${app.base}/metrics`)).text();
  }, 90_000);
  afterAll(() => app?.close());

  it('query only metric names the service exports', () => {
    const unknown = uses().flatMap((u) =>
      u.selectors
        .filter((s) => s.name === undefined || !index.has(s.name))
        .map((s) => `${u.query.where}: ${s.name ?? '(no name)'}`),
    );
    expect(unknown).toEqual([]);
  });

  it('select on labels and label values those series have', () => {
    const problems = uses().flatMap((u) =>
      u.selectors.flatMap((s) => problemsOf(s, index)).map((p) => `${u.query.where}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('group and match on labels those series have', () => {
    const problems: string[] = [];
    for (const u of uses()) {
      for (const need of u.needs) {
        for (const label of need.labels) {
          if (TARGET_LABELS.has(label)) continue;
          const carriers = need.selectors.filter(
            (s) => s.name !== undefined && index.get(s.name)?.has(label),
          );
          const ok = need.anyOf ? carriers.length > 0 : carriers.length === need.selectors.length;
          if (!ok || need.selectors.length === 0)
            problems.push(
              `${u.query.where}: ${label} is not on ${need.selectors.map((s) => s.name).join(', ')}`,
            );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('leave no metric family canary-kit exports off the dashboard', () => {
    const shown = new Set(
      uses()
        .filter((u) => u.query.kind === 'panel')
        .flatMap((u) => u.selectors.map((s) => s.name!.replace(/_(bucket|count|sum)$/, ''))),
    );
    // Every family registered, whether or not it has samples yet: a new one fails here until it has a panel.
    const exported = declaredFamilies(text).filter(
      (f) => f.startsWith('canary_kit_') || f === 'http_request_duration_seconds',
    );
    expect(exported.length).toBeGreaterThanOrEqual(12);
    expect(exported.filter((f) => !shown.has(f))).toEqual([]);
  });
});
