// The alerting rules load in Prometheus' own checker, their promtool unit tests pass, the sample config loads them,
// and every alert says what happened, how bad it is and where its runbook is.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/build.js';
import { loadRules, OPS_DIR, PROMETHEUS_CONFIG, RULES_FILE, RULES_TEST_FILE } from './assets.js';

const run = promisify(execFile);

/** Runs promtool; on failure the assertion shows its whole output. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: OPS_DIR });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const line of markdown.split('\n')) {
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h)
      out.add(
        h[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, '')
          .replace(/\s/g, '-'),
      );
  }
  return out;
}

interface RuleTest {
  name: string;
  input_series: { series: string; values: string }[];
  alert_rule_test?: {
    eval_time: string;
    alertname: string;
    exp_alerts: { exp_labels: Record<string, string> }[];
  }[];
}

describe('examples/ops/canary-kit.rules.yml', () => {
  const alerts = loadRules().flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

  it('passes promtool check rules', async () => {
    const out = await promtool('check', 'rules', RULES_FILE);
    expect(out).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('passes its promtool unit tests', async () => {
    expect(await promtool('test', 'rules', RULES_TEST_FILE)).toContain('SUCCESS');
  });

  it('is loaded by the sample prometheus.yml', async () => {
    const out = await promtool('check', 'config', PROMETHEUS_CONFIG);
    expect(out).toContain('SUCCESS: 1 rule files found');
    expect(out).toContain('is valid prometheus config file syntax');
  });

  it('has the four alerts the issue asks for, and more', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'CanaryKitCanaryErrorRate',
        'CanaryKitCanaryLatency',
        'CanaryKitShadowMismatchRate',
        'CanaryKitRecorderDropping',
      ]),
    );
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists', () => {
    const docAnchors = anchors(readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8'));
    for (const alert of alerts) {
      const name = alert.alert!;
      expect(['critical', 'warning', 'info'], name).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, name).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      expect(alert.annotations?.description?.length ?? 0, name).toBeGreaterThan(80);
      const runbook = alert.annotations?.runbook_url ?? '';
      expect(runbook, name).toMatch(/\/docs\/operations\.md#[a-z0-9-]+$/);
      expect(docAnchors, `${name}: docs/operations.md has no heading for ${runbook}`).toContain(
        runbook.split('#')[1],
      );
    }
  });

  it('has a unit test where each alert fires, beside look-alikes where it must not', () => {
    const doc = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as { tests: RuleTest[] };
    for (const alert of alerts) {
      const name = alert.alert!;
      const cases = doc.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((c) => c.alertname === name).map((c) => ({ test: t, c })),
      );
      const firing = cases.filter(({ c }) => c.exp_alerts.length > 0);
      expect(firing.length, `${name} never fires in a unit test`).toBeGreaterThan(0);
      // A not-firing case: an evaluation expecting none, or input series the firing alerts do not cover —
      // promtool fails when an alert fires that `exp_alerts` does not list, so those prove silence.
      const silent = cases.some(({ c }) => c.exp_alerts.length === 0);
      const lookAlikes = firing.some(({ test, c }) =>
        test.input_series.some(
          (s) =>
            !c.exp_alerts.some((a) =>
              Object.entries(a.exp_labels)
                .filter(([k]) => !['severity', 'component', 'outcome'].includes(k))
                .every(([k, v]) => s.series.includes(`${k}="${v}"`)),
            ),
        ),
      );
      expect(silent || lookAlikes, `${name} has no case where it must stay silent`).toBe(true);
    }
  });
});
