// One demo run, whatever serves the app (one process, or three replicas with --fleet): traffic against the
// app's URLs, the live view every 500 ms, the end ~5 s after a rollback (or at --duration), then the
// summary, the HTML report and the exit code.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderReport } from './report.mjs';
import { createDemoState } from './state.mjs';
import { summaryLines } from './summary.mjs';
import { Timeline } from './timeline.mjs';
import { startTraffic } from './traffic.mjs';
import { createView } from './view.mjs';

export const REFRESH_MS = 500;

/** What a run collects, and its clock (ms since the run started). */
export function createRunContext() {
  const started = performance.now();
  return { clock: () => performance.now() - started, timeline: new Timeline(), state: createDemoState() };
}

/**
 * `apps`: { targets: string[], refresh(): void (reads live status into `state`), mode: string }.
 * Returns the exit code: 0 when the rollout was rolled back at or past the step where the regression was
 * planted, 1 otherwise (no rollback, a completed rollout, or a false alarm before the regression).
 */
export async function runDemo({
  options,
  plan,
  state,
  timeline,
  clock,
  apps,
  v2Counts,
  stdout = process.stdout,
}) {
  const traffic = startTraffic({
    targets: apps.targets,
    rate: options.rate,
    clock,
    onResult: (result) => timeline.observe(result),
  });
  const view = createView({
    stream: stdout,
    quiet: options.quiet,
    totalSteps: plan.steps.length,
    title: apps.mode,
  });

  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const deadline = options.duration * 1000;
  let endAt = null;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      apps.refresh();
      const now = clock();
      timeline.samples.push({
        at: now,
        percentage: state.percentage,
        phase: state.phase,
        shadow: { ...state.shadow },
      });
      view.render(state, timeline, now);
      if (endAt === null && (state.rollback || state.complete)) endAt = now + plan.tailMs;
      if (interrupted || now >= deadline || (endAt !== null && now >= endAt)) {
        clearInterval(timer);
        resolve();
      }
    }, REFRESH_MS);
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await traffic.stop();
  const endedAt = clock();
  apps.refresh();
  view.render(state, timeline, endedAt);

  const t = timeline.totals;
  const totals = { requests: t.v1.requests + t.v2.requests + t.catalog.requests + t.other.requests };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(
    options.out,
    renderReport({ state, timeline, plan, options, totals, endedAt, mode: apps.mode }),
  );
  const lines = summaryLines({
    state,
    timeline,
    traffic: traffic.counts,
    endedAt,
    reportPath: options.out,
    v2Counts,
  });
  const rb = state.rollback;
  let code = 1;
  if (rb && rb.percentage >= plan.regressionFrom) {
    code = 0;
    lines.push(
      `  The planted regression was caught at ${rb.percentage} % and rolled back by the rollout controller.`,
    );
  } else if (rb) {
    lines.push(
      `  A rollback at ${rb.percentage} %, before the regression was planted (${plan.regressionFrom} %): a false alarm.`,
    );
  } else if (interrupted) lines.push('  Interrupted before a rollback.');
  else lines.push('  The planted regression was not rolled back within the run.');
  stdout.write(`${lines.join('\n')}\n`);
  return code;
}
