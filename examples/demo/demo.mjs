// The canary-kit demo — the README's first command (`pnpm demo`).
//
// One process, no services to install: a Fastify shop with canary-kit (memory store, in-process analysis),
// the canary v2 checkout as a separate HTTP server reached through the flag's `upstream`, a shadow candidate
// for the catalogue, and a traffic generator. The rollout controller steps v2 through 1, 5, 10, 25, 50, 100 %;
// from 25 % on v2 fails and slows part of its checkouts (the planted regression, lib/services.mjs); the
// analysis catches it and the controller rolls back. A summary and an HTML report end the run.
//
// Exit code 0 when the planted regression was rolled back, 1 when not, 2 on bad options.

import { createCanary } from '@canary-kit/core';
import { demoConfig, startStableApp } from './lib/app.mjs';
import { parseOptions, planFor, USAGE, UsageError } from './lib/options.mjs';
import { createRunContext, runDemo } from './lib/run.mjs';
import { startServices } from './lib/services.mjs';
import { FLAG } from './lib/shop.mjs';
import { attachCanary } from './lib/state.mjs';

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`canary-kit demo: ${error.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const plan = planFor(options.fast);
let code;
if (options.fleet) {
  const { runFleet } = await import('./lib/fleet.mjs');
  code = await runFleet(options, plan);
} else {
  code = await runSingle();
}
process.exitCode = code;
// Keep-alive sockets of the traffic generator close with the servers; this only guards a straggler.
setTimeout(() => process.exit(code), 2_000).unref();

async function runSingle() {
  const context = createRunContext();
  let canary;
  const services = await startServices({
    regressionFrom: plan.regressionFrom,
    currentPercentage: () => canary?.getFlag(FLAG)?.percentage ?? 0,
  });
  const { v2, candidate, inventory } = services;
  canary = createCanary(demoConfig({ v2Url: v2.url, shadowUrl: candidate.url, plan }));
  // Listen before the rollout's first step: the controller starts it as soon as the store has loaded.
  const refresh = attachCanary(canary, context.state, context.timeline, context.clock);
  const stable = await startStableApp({ canary, inventoryUrl: inventory.url });
  try {
    const apps = { targets: [stable.url], refresh, mode: 'one process, memory store, in-process analysis' };
    return await runDemo({ ...context, options, plan, v2Counts: v2.counts, apps });
  } finally {
    await stable.close();
    await services.close();
  }
}
