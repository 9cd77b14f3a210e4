// The Grafana dashboard is a well-formed JSON model Grafana 10/11 imports: a Prometheus datasource variable that
// every panel, target, annotation and query variable uses, unique panel ids, panels on the 24-column grid without
// overlaps, and a PromQL expression in every target.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allPanels, DASHBOARD_FILE, loadDashboard, variableQuery } from './assets.js';
import { analyzeQuery, parseLabelValues } from './promql.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

describe('examples/ops/canary-kit.dashboard.json', () => {
  const dashboard = loadDashboard();
  const panels = allPanels(dashboard);
  const dataPanels = panels.filter((p) => p.type !== 'row');

  it('is a dashboard model with a stable uid, a schema version of Grafana 10+ and no instance id', () => {
    const raw = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Record<string, unknown>;
    expect(raw.id).toBeNull(); // an id is the database row of one Grafana instance; import assigns one
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(raw.__inputs).toBeUndefined(); // the datasource variable picks the source, no import-time input
  });

  it('has a Prometheus datasource variable, and query variables that use it', () => {
    const variables = dashboard.templating.list;
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    const queries = variables.filter((v) => v.type === 'query');
    expect(queries.map((v) => v.name)).toEqual(expect.arrayContaining(['job', 'flag']));
    for (const v of queries) {
      expect(v.datasource, v.name).toEqual(DATASOURCE);
      const q = variableQuery(v)!;
      expect(v.definition, v.name).toBe(q);
      const { expr, label } = parseLabelValues(q);
      expect(label, v.name).toBe(v.name);
      const selectors = analyzeQuery(expr ?? '').selectors;
      expect(selectors, v.name).toHaveLength(1);
      // The editor's structured fields (what Grafana 10/11 runs) say the same as the text.
      expect(v.query, v.name).toMatchObject({
        qryType: 1,
        metric: selectors[0]!.name,
        label,
        labelFilters: selectors[0]!.matchers.map((m) => ({ label: m.label, op: m.op, value: m.value })),
      });
    }
  });

  it('gives every panel a unique id, the datasource variable and targets with an expression', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => Number.isInteger(id) && id! > 0)).toBe(true);
    expect(dataPanels.length).toBeGreaterThanOrEqual(12);
    for (const panel of dataPanels) {
      const name = `panel ${panel.id} "${panel.title}"`;
      expect(panel.title, name).toBeTruthy();
      expect(panel.description?.length ?? 0, `${name} says what it shows`).toBeGreaterThan(20);
      expect(panel.datasource, name).toEqual(DATASOURCE);
      expect(panel.targets?.length, name).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${name} refIds`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.datasource, `${name} ${target.refId}`).toEqual(DATASOURCE);
        expect(target.expr?.trim(), `${name} ${target.refId}`).toBeTruthy();
        expect(() => analyzeQuery(target.expr!), `${name} ${target.refId}`).not.toThrow();
      }
    }
    for (const annotation of dashboard.annotations.list.filter((a) => a.expr !== undefined))
      expect(annotation.datasource, annotation.name).toEqual(DATASOURCE);
  });

  it('names in each legend only labels its query keeps', () => {
    for (const panel of dataPanels)
      for (const target of panel.targets!) {
        const kept = new Set(
          analyzeQuery(target.expr!)
            .groupings.filter((g) => g.keyword === 'by')
            .flatMap((g) => g.labels),
        );
        for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g))
          expect(kept, `panel "${panel.title}" ${target.refId}: legend {{${label}}}`).toContain(label);
      }
  });

  it('uses panel types and units Grafana ships', () => {
    const UNITS = ['short', 'percent', 'percentunit', 's', 'ms', 'reqps', 'ops', 'none'];
    for (const panel of dataPanels) {
      expect(['timeseries', 'stat', 'table', 'bargauge', 'gauge', 'state-timeline'], panel.title).toContain(
        panel.type,
      );
      expect(UNITS, panel.title).toContain(panel.fieldConfig?.defaults?.unit);
    }
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const panel of panels) {
      const g = panel.gridPos!;
      expect(g, `panel ${panel.id}`).toBeDefined();
      expect(g.x + g.w, `panel ${panel.id} width`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `panel ${panel.id} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });
});
