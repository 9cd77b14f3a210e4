// The ops assets in examples/ops, read the way Grafana and Prometheus read them, with every PromQL query they hold.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/build.js';

export const OPS_DIR = join(ROOT, 'examples', 'ops');
export const RULES_FILE = join(OPS_DIR, 'canary-kit.rules.yml');
export const RULES_TEST_FILE = join(OPS_DIR, 'canary-kit.rules.test.yml');
export const DASHBOARD_FILE = join(OPS_DIR, 'canary-kit.dashboard.json');
export const PROMETHEUS_CONFIG = join(OPS_DIR, 'prometheus.yml');

/** One PromQL query and where it is, for messages. */
export interface Query {
  readonly where: string;
  readonly expr: string;
  /** Grafana variable queries are `label_values(expr, label)`. */
  readonly kind: 'rule' | 'panel' | 'annotation' | 'variable';
}

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function loadRules(): { name: string; rules: Rule[] }[] {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups;
}

export interface Target {
  readonly refId?: string;
  readonly expr?: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly legendFormat?: string;
}

export interface Panel {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly gridPos?: { h: number; w: number; x: number; y: number };
  readonly targets?: Target[];
  readonly panels?: Panel[];
  readonly fieldConfig?: { defaults?: { unit?: string } };
}

export interface Variable {
  readonly type: string;
  readonly name: string;
  /** Grafana 10/11 keep a Prometheus variable's query structured (qryType 1 = label values), and as text. */
  readonly query?:
    | string
    | {
        qryType?: number;
        query?: string;
        metric?: string;
        label?: string;
        labelFilters?: { label: string; op: string; value: string }[];
      };
  readonly definition?: string;
  readonly datasource?: { type?: string; uid?: string };
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
  readonly annotations: {
    list: { name: string; expr?: string; datasource?: { type?: string; uid?: string } }[];
  };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every panel, the ones inside collapsed rows included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function variableQuery(v: Variable): string | undefined {
  return typeof v.query === 'string' ? v.query : v.query?.query;
}

/** Every PromQL query in the dashboard and the rules. */
export function allQueries(): Query[] {
  const queries: Query[] = [];
  for (const group of loadRules())
    for (const rule of group.rules)
      queries.push({ where: `rules: ${rule.alert ?? rule.record}`, expr: rule.expr, kind: 'rule' });
  const dashboard = loadDashboard();
  for (const panel of allPanels(dashboard))
    for (const target of panel.targets ?? [])
      if (target.expr !== undefined)
        queries.push({
          where: `dashboard: "${panel.title}" ${target.refId}`,
          expr: target.expr,
          kind: 'panel',
        });
  for (const annotation of dashboard.annotations.list)
    if (annotation.expr !== undefined)
      queries.push({
        where: `dashboard annotation "${annotation.name}"`,
        expr: annotation.expr,
        kind: 'annotation',
      });
  for (const variable of dashboard.templating.list) {
    const q = variable.type === 'query' ? variableQuery(variable) : undefined;
    if (q !== undefined)
      queries.push({ where: `dashboard variable $${variable.name}`, expr: q, kind: 'variable' });
  }
  return queries;
}
