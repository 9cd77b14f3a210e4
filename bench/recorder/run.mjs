// The recorder's throughput cost: @canary-kit/fastify on a hello-JSON route with `recorder: { sampleRate: 1,
// withResponse: true }` against the same app with the recorder off.
//
//   npx -y pnpm@10 build && node bench/recorder/run.mjs
//
// Two servers, one child process each, both started before the first round; autocannon (in this process)
// loads them in alternating rounds, the order flipped every round, so drift on the machine falls on both
// alike. Reported: the median req/s of each and the ratio recorder-on / recorder-off.
//
// BENCH_DURATION (s per round, default 3), BENCH_ROUNDS (default 4), BENCH_WARMUP (s, default 1) and
// BENCH_CONNECTIONS (default 50): the defaults are a smoke run; raise them for a figure worth quoting.
// Results go to bench/results/recorder.json.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

// ── server side: `node run.mjs --serve off|on <dir>` ─────────────────────────────────────────────────

async function serve(variant, dir) {
  const { default: Fastify } = await import('fastify');
  const { createCanary } = await import(join(root, 'packages/core/dist/index.js'));
  const { default: canaryPlugin } = await import(join(root, 'packages/fastify/dist/index.js'));
  const canary = createCanary({
    flags: { hello: { percentage: 50 } },
    ...(variant === 'on'
      ? {
          recorder: {
            path: join(dir, 'requests.jsonl'),
            sampleRate: 1,
            withResponse: true,
            maxFileBytes: 64 * 1024 * 1024,
            maxFiles: 2,
          },
        }
      : {}),
  });
  const app = Fastify({ logger: false });
  app.register(canaryPlugin, { canary, context: (request) => ({ userId: request.headers['x-user-id'] }) });
  app.get('/hello', async () => ({ hello: 'world', n: 42 }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: app.server.address().port });
  process.on('message', async (m) => {
    if (m === 'stats') process.send({ stats: canary.stats().recorder ?? null });
    if (m === 'close') {
      await app.close();
      await canary.close();
      process.exit(0);
    }
  });
}

// ── load side ────────────────────────────────────────────────────────────────────────────────────────

function start(variant, dir) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', variant, dir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', ({ port }) => resolve({ child, url: `http://127.0.0.1:${port}/hello` }));
  });
}

function ask(child, what) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(what);
  });
}

async function load(url, seconds, connections) {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url, duration: seconds, connections, headers: { 'x-user-id': 'u-1' } });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx`);
  return result.requests.average;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 3);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
  const warmup = Number(process.env.BENCH_WARMUP ?? 1);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const dir = mkdtempSync(join(os.tmpdir(), 'canary-kit-bench-recorder-'));
  const servers = { off: await start('off', dir), on: await start('on', dir) };
  try {
    for (const s of Object.values(servers)) await load(s.url, warmup, connections);
    const rps = { off: [], on: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const v of order) rps[v].push(await load(servers[v].url, duration, connections));
      console.log(
        `round ${r + 1}/${rounds}: off ${rps.off.at(-1).toFixed(0)} req/s, on ${rps.on.at(-1).toFixed(0)} req/s`,
      );
    }
    const { stats } = await ask(servers.on.child, 'stats');
    const off = median(rps.off);
    const on = median(rps.on);
    const result = {
      bench: 'recorder',
      route: 'GET /hello (Fastify 5 + @canary-kit/fastify)',
      recorder: { sampleRate: 1, withResponse: true },
      duration,
      rounds,
      warmup,
      connections,
      node: process.version,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      reqPerSec: { off: rps.off, on: rps.on },
      median: { off, on },
      ratio: on / off,
      recorderCounts: stats,
    };
    console.log(
      `median: off ${off.toFixed(0)} req/s, on ${on.toFixed(0)} req/s → ratio on/off ${result.ratio.toFixed(3)}` +
        ` (recorder: ${JSON.stringify(stats)})`,
    );
    writeFileSync(join(here, '..', 'results', 'recorder.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const s of Object.values(servers)) s.child.send('close');
    await Promise.all(Object.values(servers).map((s) => new Promise((r) => s.child.once('exit', r))));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
else await main();
