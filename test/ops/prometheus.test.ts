// The assets against a real Prometheus scraping a live canary-kit service: every dashboard query and variable
// evaluates without error and draws data, and every alert expression evaluates — those planted in the service
// (a canary answering 5xx, a shadow target that differs, an upstream that fails) return the offending series,
// those not planted return none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrometheusServer, startPrometheus } from '../helpers/prometheus-server.js';
import { allQueries, loadRules, type Query, RULES_FILE } from './assets.js';
import { drive, driveUntilComplete, type OpsApp, startOpsApp } from './live-app.js';
import { parseLabelValues } from './promql.js';

/** The job name the test Prometheus scrapes under (see test/helpers/prometheus-server.ts). */
const JOB = 'canary-kit';
const POLL_MS = 250;
/** Waits inside a test end before the test's own timeout, so the failure names what was still missing. */
const WAIT_MS = 60_000;
const TEST_MS = 90_000;

/** Grafana's variables as Grafana would fill them in: this job, every flag, route, target and experiment. */
function substitute(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}/g, '1m')
    .replace(/\$\{?job\}?/g, JOB)
    .replace(/\$\{?(flag|route|target|experiment)\}?/g, '.*');
}

/** Polls `check` until it returns nothing left to wait for; the last list is the failure message. */
async function eventually(check: () => Promise<string[]>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left: string[] = [];
  for (;;) {
    left = await check();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}, still:\n  ${left.join('\n  ')}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

describe('the ops assets against a real Prometheus scraping a live service', () => {
  let app: OpsApp;
  let prometheus: PrometheusServer;
  let stopTraffic = () => Promise.resolve();

  beforeAll(async () => {
    app = await startOpsApp('Express 5');
    // Prometheus takes ~5 s to its first scrape: start it before the first round of traffic.
    prometheus = await startPrometheus({ targets: [app.hostPort], ruleFiles: [RULES_FILE] });
    await driveUntilComplete(app.base);
    let running = true;
    const loop = (async () => {
      for (let round = 0; running; round++) {
        await drive(app.base, round);
        await new Promise((r) => setTimeout(r, 50)); // a steady trickle, not a load test
      }
    })();
    stopTraffic = async () => {
      running = false;
      await loop;
    };
    await prometheus.waitForTargetsUp(60_000);
  }, 150_000);
  afterAll(async () => {
    await stopTraffic();
    await prometheus?.stop();
    await app?.close();
  });

  it(
    'loads the alerting rules into Prometheus, every one evaluating with health ok',
    async () => {
      const expected = loadRules()
        .flatMap((g) => g.rules)
        .flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
      expect(expected.length).toBeGreaterThan(0);
      await eventually(async () => {
        const res = await fetch(`${prometheus.url}/api/v1/rules?type=alert`);
        const body = (await res.json()) as {
          data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
        };
        const loaded = new Map(body.data.groups.flatMap((g) => g.rules).map((r) => [r.name, r]));
        return expected.flatMap((name) => {
          const rule = loaded.get(name);
          if (rule === undefined) return [`${name}: not loaded`];
          return rule.health === 'ok' ? [] : [`${name}: health ${rule.health} ${rule.lastError ?? ''}`];
        });
      }, 'every alerting rule loaded and evaluated');
    },
    TEST_MS,
  );

  const queries = allQueries();
  const panels = queries.filter((q) => q.kind === 'panel');

  it(
    'evaluates every dashboard panel query, each drawing data',
    async () => {
      await eventually(async () => {
        const empty: string[] = [];
        for (const q of panels) {
          // A query Prometheus rejects throws here, failing the test at once with its error.
          const result = await prometheus.query(substitute(q.expr));
          if (result.length === 0) empty.push(q.where);
        }
        return empty;
      }, 'dashboard panels without data');
    },
    TEST_MS,
  );

  it('evaluates the dashboard annotation queries', async () => {
    for (const q of queries.filter((q) => q.kind === 'annotation'))
      await expect(prometheus.query(substitute(q.expr)), q.where).resolves.toBeInstanceOf(Array);
  });

  it(
    'fills every dashboard variable from the live series',
    async () => {
      const variables: Query[] = queries.filter((q) => q.kind === 'variable');
      expect(variables.length).toBeGreaterThan(0);
      await eventually(async () => {
        const empty: string[] = [];
        for (const v of variables) {
          const { expr, label } = parseLabelValues(v.expr);
          const result = await prometheus.query(`count by (${label}) (${substitute(expr ?? 'up')})`);
          if (!result.some((r) => (r.metric[label] ?? '') !== '')) empty.push(v.where);
        }
        return empty;
      }, 'dashboard variables without values');
    },
    TEST_MS,
  );

  describe('the alert expressions', () => {
    const rules = loadRules().flatMap((g) => g.rules);
    const byName = (name: string) => rules.find((r) => r.alert === name)!.expr;

    it('all evaluate', async () => {
      for (const rule of rules)
        await expect(prometheus.query(rule.expr), rule.alert).resolves.toBeInstanceOf(Array);
    });

    it(
      'find the planted regressions: canary 5xx, shadow mismatches, upstream failovers',
      async () => {
        const planted: [string, Record<string, string>][] = [
          ['CanaryKitCanaryErrorRate', { job: JOB }],
          ['CanaryKitShadowMismatchRate', { job: JOB, target: 'orders-v2' }],
          ['CanaryKitUpstreamFailovers', { job: JOB, flag: 'search-v2' }],
        ];
        await eventually(async () => {
          const silent: string[] = [];
          for (const [alert, labels] of planted) {
            const result = await prometheus.query(byName(alert));
            const found = result.some((r) => Object.entries(labels).every(([k, v]) => r.metric[k] === v));
            if (!found) silent.push(`${alert} (got ${JSON.stringify(result)})`);
          }
          return silent;
        }, 'alerts that do not see what was planted');
      },
      TEST_MS,
    );

    it('stay silent about what was not planted: recorder drops, a rollback', async () => {
      // Evaluated after traffic has run (the test above waited for it), so silence is not just missing data.
      for (const alert of ['CanaryKitRecorderDropping', 'CanaryKitRolloutRolledBack'])
        expect(await prometheus.query(byName(alert)), alert).toEqual([]);
      // and the series they watch are there, at zero
      expect(await prometheus.query('canary_kit_recorder_records_total{outcome="dropped"}')).toHaveLength(1);
      expect(await prometheus.query('canary_kit_rollout_phase{phase="rolled-back"} == 0')).toHaveLength(1);
    });
  });
});
