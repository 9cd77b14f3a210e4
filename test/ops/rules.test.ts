// The alerting rules load in Prometheus' own checker, their promtool unit tests pass, the sample config loads them,
// and every alert says what happened, how bad it is and where its runbook is.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROOT } from '../helpers/build.js';
import { loadRules, OPS_DIR, PROMETHEUS_CONFIG, RULES_FILE, RULES_TEST_FILE, type Rule } from './assets.js';

const run = promisify(execFile);

/** Runs promtool; on failure the assertion shows its whole output. */
async function promtool(...args: string[]): Promise<string> {
  return promtoolIn(OPS_DIR, ...args);
}

async function promtoolIn(cwd: string, ...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
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

/** The clauses of `a > 1 and b > 2 and c`: split at each `and` outside parentheses. */
function topLevelClauses(expr: string): string[] {
  const clauses: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /^\band\b/.test(expr.slice(i, i + 4)) && !/\w/.test(expr[i - 1] ?? '')) {
      clauses.push(expr.slice(start, i).trim());
      start = i + 3;
    }
  }
  clauses.push(expr.slice(start).trim());
  return clauses;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface RuleTest {
  name: string;
  input_series: { series: string; values: string }[];
  alert_rule_test?: {
    eval_time: string;
    alertname: string;
    exp_alerts: { exp_labels: Record<string, string>; exp_annotations?: Record<string, string> }[];
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

  // Each guard of a multi-clause alert (a floor, a margin, a minimum of traffic) is there for a look-alike: with
  // the guard taken out, a look-alike in the unit tests fires and promtool's test fails. A guard no test needs
  // would be untested. Annotations are left out of these runs: dropping the first clause changes `$value`, which
  // would fail the test through a summary, not through which alerts fire.
  const guarded = alerts.filter((a) => topLevelClauses(a.expr).length > 1);
  const withoutAnnotations = (drop?: { alert: string; clause: number }) => {
    const rules = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: Mutable<Rule>[] }[] };
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      delete rule.annotations;
      if (drop !== undefined && rule.alert === drop.alert)
        rule.expr = topLevelClauses(rule.expr)
          .filter((_, i) => i !== drop.clause)
          .join('\nand\n');
    }
    const tests = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as { tests: RuleTest[] };
    for (const c of tests.tests.flatMap((t) => t.alert_rule_test ?? []))
      for (const a of c.exp_alerts) delete a.exp_annotations;
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-rules-'));
    writeFileSync(join(dir, 'canary-kit.rules.yml'), stringify(rules));
    writeFileSync(join(dir, 'canary-kit.rules.test.yml'), stringify(tests));
    return dir;
  };

  it('passes its unit tests on labels alone (the baseline of the runs below)', async () => {
    const dir = withoutAnnotations();
    try {
      expect(await promtoolIn(dir, 'test', 'rules', 'canary-kit.rules.test.yml')).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(guarded.map((a) => [a.alert!, topLevelClauses(a.expr).length] as const))(
    '%s: dropping any of its %i clauses makes a unit test fail',
    async (name, count) => {
      for (let clause = 0; clause < count; clause++) {
        const dir = withoutAnnotations({ alert: name, clause });
        try {
          await promtoolIn(dir, 'check', 'rules', 'canary-kit.rules.yml');
          const failure = await promtoolIn(dir, 'test', 'rules', 'canary-kit.rules.test.yml').then(
            () => undefined,
            (error: Error) => error.message,
          );
          expect(failure, `${name} without clause ${clause + 1}: every unit test still passes`).toMatch(
            new RegExp(`alertname: ${name}\\b`),
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );

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
