// Command-line options of the demo. Bad input → a message naming the option and the rule, exit code 2.

import { resolve } from 'node:path';

export const USAGE = `Usage: pnpm demo [-- options]   (or: node examples/demo/demo.mjs [options])

  --duration <s>  stop after this many seconds even if nothing was rolled back (default 90, 10–600);
                  the run ends on its own a few seconds after the rollback
  --out <file>    where to write the HTML report (default ./canary-kit-demo-report.html)
  --rate <n>      requests a second from the traffic generator (default 250, 50–2000)
  --fast          a shorter schedule (2.5 s analysis interval) for tests and impatient people
  --quiet         no live view: the summary only
  --fleet         three replica processes sharing a Redis store, analysed from Prometheus
                  (needs redis-server and prometheus on PATH)
  --help          this text`;

export class UsageError extends Error {}

function number(name, raw, min, max) {
  const value = Number(raw);
  if (raw === undefined || raw === '' || !Number.isFinite(value)) {
    throw new UsageError(
      `${name}: must be a number, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`,
    );
  }
  if (value < min || value > max)
    throw new UsageError(`${name}: must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** The schedule of the rollout: the same code path either way, only the clock differs. */
export function planFor(fast) {
  return {
    steps: [1, 5, 10, 25, 50, 100],
    intervalMs: fast ? 2_500 : 5_000,
    minRequests: 15,
    failureLimit: 2,
    // The defaults, except for latency: everything here shares one event loop (and often a busy laptop), and
    // the canary's proxied hop waits in that loop twice, so a latency effect must be 100 ms (not 25 ms) before
    // it counts, and p99 — a handful of samples at the first steps — is left out. In production keep the
    // defaults: the versions run on their own machines.
    thresholds: { minLatencyIncreaseSeconds: 0.1, maxP99Ratio: null },
    /** The step from which v2 misbehaves. */
    regressionFrom: 25,
    /** How long traffic goes on after the rollback, to show the canary share back on v1. */
    tailMs: fast ? 2_500 : 5_000,
  };
}

export function parseOptions(argv, cwd = process.cwd()) {
  const options = {
    duration: 90,
    out: resolve(cwd, 'canary-kit-demo-report.html'),
    rate: 250,
    fast: false,
    quiet: false,
    fleet: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--duration':
        options.duration = number('--duration', value(), 10, 600);
        break;
      case '--out': {
        const out = value();
        if (!out) throw new UsageError('--out: needs a file path');
        options.out = resolve(cwd, out);
        break;
      }
      case '--rate':
        options.rate = number('--rate', value(), 50, 2_000);
        break;
      case '--fast':
        options.fast = true;
        break;
      case '--quiet':
        options.quiet = true;
        break;
      case '--fleet':
        options.fleet = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      case '--':
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(arg)} (see --help)`);
    }
  }
  return options;
}
