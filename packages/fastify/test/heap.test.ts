import { type ChildProcess, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ShadowOutcome } from '@canary-kit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { hungServer, send, type TestServer } from '../../../test/helpers/servers.js';

/**
 * Bounded under a hung shadow target: 20,000 requests (keep-alive, 16 at a time) against an app whose shadow
 * target accepts connections and never answers. Exactly maxInFlight copies stay in flight, every other one is
 * dropped and counted, every primary answer is correct, and the heap after a forced GC does not grow with the
 * number of requests. The app runs in a child process started with --expose-gc (on the TypeScript sources,
 * through test/heap/register-ts.mjs).
 */

const here = dirname(fileURLToPath(import.meta.url));
const TOTAL = 20_000;
const WARMUP = 2_000;
const MAX_IN_FLIGHT = 64;
const CONCURRENCY = 16;
const HEAP_GROWTH_BOUND = 30 * 1024 * 1024;

interface Measure {
  heapUsed: number;
  rss: number;
  inFlight: number;
  shadow: Record<ShadowOutcome, number>;
}

let child: ChildProcess | undefined;
let target: TestServer | undefined;
afterAll(async () => {
  child?.disconnect();
  child?.kill();
  await target?.close();
});

function start(targetUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--conditions=@canary-kit/source',
      '--import',
      pathToFileURL(join(here, 'heap', 'register-ts.mjs')).href,
      join(here, 'heap', 'app.ts'),
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        SHADOW_TARGET: targetUrl,
        MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (message) => resolve({ port: (message as { port: number }).port, child: proc }));
    proc.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${stderr}`)));
  });
}

function measure(proc: ChildProcess): Promise<Measure> {
  return new Promise((resolve) => {
    proc.once('message', (message) => resolve(message as Measure));
    proc.send('measure');
  });
}

const EXPECTED_ITEMS = JSON.stringify({
  items: Array.from({ length: 64 }, (_, i) => ({
    id: i,
    name: `item number ${i}`,
    price: i * 1.25,
    tags: ['a', 'b'],
  })),
});

/** Requests `from`..`to`-1, CONCURRENCY at a time: 3 of 4 GETs, every 4th a POST with a 1 KiB JSON body. */
async function load(base: string, agent: Agent, from: number, to: number): Promise<number> {
  let next = from;
  let correct = 0;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      const headers = { 'x-user': `user-${i % 500}` };
      if (i % 4 === 3) {
        const body = Buffer.from(JSON.stringify({ n: i, pad: 'x'.repeat(1000) }));
        const res = await send(`${base}/orders`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body,
          agent,
        });
        if (res.status === 200 && res.body.toString() === `{"n":${i}}`) correct++;
      } else {
        const res = await send(`${base}/items`, { headers, agent });
        if (res.status === 200 && res.body.toString() === EXPECTED_ITEMS) correct++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return correct;
}

const MB = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

describe('a hung shadow target under load', () => {
  it(`keeps ${MAX_IN_FLIGHT} copies in flight, drops and counts the rest, and the heap bounded over ${TOTAL} requests`, async () => {
    target = await hungServer();
    const app = await start(target.url);
    child = app.child;
    const base = `http://127.0.0.1:${app.port}`;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

    let correct = await load(base, agent, 0, WARMUP);
    const baseline = await measure(child);
    correct += await load(base, agent, WARMUP, TOTAL);
    // The last copies are counted in onResponse, which may run just after the client read its answer.
    let after = await measure(child);
    for (let i = 0; i < 50 && after.inFlight + after.shadow.dropped < TOTAL; i++)
      after = await measure(child);
    agent.destroy();

    const growth = after.heapUsed - baseline.heapUsed;
    console.log(
      `heap after GC: ${MB(baseline.heapUsed)} MB after ${WARMUP} requests, ${MB(after.heapUsed)} MB after ${TOTAL} ` +
        `(growth ${MB(growth)} MB, bound ${MB(HEAP_GROWTH_BOUND)} MB); rss ${MB(after.rss)} MB; ` +
        `in flight ${after.inFlight}; shadow ${JSON.stringify(after.shadow)}`,
    );
    expect(correct).toBe(TOTAL);
    expect(after.inFlight).toBe(MAX_IN_FLIGHT);
    expect(after.shadow).toEqual({
      match: 0,
      mismatch: 0,
      error: 0,
      timeout: 0,
      dropped: TOTAL - MAX_IN_FLIGHT,
      skipped: 0,
    });
    expect(target.arrived()).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(growth).toBeLessThan(HEAP_GROWTH_BOUND);
  });
});
