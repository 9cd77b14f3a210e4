// The summary printed at the end of a run: what the rollout did, why it rolled back (with the analysis's
// figures), what the shadow found, and the totals.

import { at, count, ms, pct } from './format.mjs';
import { FLAG, SHADOW_TARGET } from './shop.mjs';
import { matchRate } from './state.mjs';

export function summaryLines({ state, timeline, traffic, endedAt, reportPath, v2Counts }) {
  const lines = ['', 'canary-kit demo — summary', ''];
  const steps = state.stepsReached.map((p) => `${p} %`).join(' → ') || 'none';
  lines.push(`  rollout of ${FLAG}: steps reached ${steps}`);
  const rb = state.rollback;
  if (rb) {
    lines.push(`  ROLLED BACK at ${rb.percentage} %, ${at(rb.at)} into the run; traffic back on v1 (0 %)`);
    lines.push(`  reason: ${rb.reason}`);
    const a = rb.analysis;
    if (a) {
      const side = (s) => `${count(s.requests)} requests, ${pct(s.errorRate, 2)} errors, p95 ${ms(s.p95)}`;
      lines.push(`  the failing analysis: canary (v2) ${side(a.canary)}; stable (v1) ${side(a.stable)}`);
      lines.push(`  failed checks: ${a.failed.join(', ') || '—'}`);
    }
  } else if (state.complete) {
    lines.push('  NOT ROLLED BACK: the rollout completed at 100 % — the planted regression was missed');
  } else {
    lines.push(
      `  NOT ROLLED BACK: the run ended at ${state.percentage} % (${state.phase}) before a rollback`,
    );
  }
  const verdicts = { pass: 0, fail: 0, inconclusive: 0 };
  for (const a of state.analyses) verdicts[a.verdict] = (verdicts[a.verdict] ?? 0) + 1;
  const sources = [...new Set(state.analyses.map((a) => a.source))].join(', ') || '—';
  lines.push(
    `  analyses: ${state.analyses.length} (${verdicts.pass} pass, ${verdicts.inconclusive} inconclusive, ${verdicts.fail} fail), source: ${sources}`,
  );
  const s = state.shadow;
  lines.push(
    `  shadow ${SHADOW_TARGET}: ${count(s.match + s.mismatch)} compared, match rate ${pct(matchRate(s))} (${count(s.mismatch)} mismatches, ${count(s.error + s.timeout)} errors, ${count(s.dropped + s.skipped)} dropped)`,
  );
  for (const [path, info] of state.mismatchPaths) {
    lines.push(
      `    differing field ${path}: ${count(info.count)} times, e.g. ${info.example.url}: v1 ${JSON.stringify(info.example.primary)} vs candidate ${JSON.stringify(info.example.candidate)}`,
    );
  }
  const t = timeline.totals;
  const requests = t.v1.requests + t.v2.requests + t.catalog.requests + t.other.requests;
  lines.push(
    `  totals: ${count(requests)} requests in ${at(endedAt)} (${count(requests / Math.max(1, endedAt / 1000))} req/s); ` +
      `checkouts v1 ${count(t.v1.requests)} (${count(t.v1.errors)} errors), v2 ${count(t.v2.requests)} (${count(t.v2.errors)} errors); ` +
      `product views ${count(t.catalog.requests)}; not sent (generator saturated) ${count(traffic.skipped)}`,
  );
  if (v2Counts) {
    lines.push(
      `  the planted regression: v2 failed ${count(v2Counts.failed)} and slowed ${count(v2Counts.slowed)} of its ${count(v2Counts.requests)} checkouts`,
    );
  }
  if (state.errors.count > 0)
    lines.push(`  canary-kit errors: ${state.errors.count} (last: ${state.errors.last})`);
  lines.push('', `  report: ${reportPath}`, '');
  return lines;
}
