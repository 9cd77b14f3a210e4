import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { hungServer, send, type TestServer } from '../../../test/helpers/servers.js';

/**
 * Bounded under a hung shadow target: 20,000 requests through an Express app whose only shadow target accepts
 * every copy and never answers. The app runs in a child process started with --expose-gc (vitest's workers
 * are not), on the TypeScript sources, and reports its heap after a full GC.
 *
 * Measured (Express 5, Node 20, 2 cores): heapUsed 14.2 MB after the 2,000-request warm-up → 13.9 MB after
 * 20,000 (growth −0.3 MB; the bound asserted is 30 MB); 64 copies in flight, 19,936 dropped.
 */

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const TOTAL = 20_000;
const WARM_UP = 2_000;
const MAX_IN_FLIGHT = 64;
const CONCURRENCY = 32;
/** Allowed heap growth from the warmed-up baseline to the end. */
const BOUND = 30 * 1024 * 1024;

interface Measure {
  memory: NodeJS.MemoryUsage;
  inFlight: number;
  counts: Record<string, number>;
}

let child: ChildProcess | undefined;
let target: TestServer | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.send('exit');
    await once(child, 'exit');
  }
  child = undefined;
  await target?.close();
  target = undefined;
});

function ask(process: ChildProcess): Promise<Measure> {
  const answer = once(process, 'message') as Promise<[Measure]>;
  process.send('measure');
  return answer.then(([m]) => m);
}

/** Requests `/items/from..to-1` with `CONCURRENCY` keep-alive connections; every answer checked. */
async function drive(base: string, agent: Agent, from: number, to: number): Promise<number> {
  let next = from;
  let wrong = 0;
  const one = async (id: number) => {
    const answer = await send(`${base}/items/${id}`, { agent });
    if (answer.status !== 200 || answer.body.toString() !== `{"id":"${id}","ok":true}`) wrong++;
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < to) await one(next++);
    }),
  );
  return wrong;
}

// Express 5 only: 20,000 requests are the expensive part, and what is measured — capture, the shadow queue,
// the metrics — is the same code under Express 4 (whose shadow paths the other test files run).
describe.each([['Express 5', 'express']])('%s', (name, module) => {
  it(`heap stays bounded over ${TOTAL} requests with a hung shadow target (maxInFlight ${MAX_IN_FLIGHT})`, async () => {
    target = await hungServer();
    child = fork(here('./heap/app-child.mjs'), [target.url, module, String(MAX_IN_FLIGHT)], {
      execArgv: [
        '--expose-gc',
        '--conditions=@canary-kit/source',
        '--import',
        here('./heap/ts-register.mjs'),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [{ port }] = (await once(child, 'message')) as [{ port: number }];
    const base = `http://127.0.0.1:${port}`;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    try {
      expect(await drive(base, agent, 0, WARM_UP)).toBe(0);
      const baseline = await ask(child);
      expect(await drive(base, agent, WARM_UP, TOTAL)).toBe(0);
      const end = await ask(child);

      // Every primary was answered while the target held MAX_IN_FLIGHT copies; the rest were dropped, exactly.
      expect(end.inFlight).toBe(MAX_IN_FLIGHT);
      expect(target.arrived()).toBe(MAX_IN_FLIGHT);
      expect(target.answered()).toBe(0);
      expect(end.counts).toMatchObject({ dropped: TOTAL - MAX_IN_FLIGHT, match: 0, error: 0, timeout: 0 });
      const growth = end.memory.heapUsed - baseline.memory.heapUsed;
      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      console.log(
        `[heap] ${name}: heapUsed ${mb(baseline.memory.heapUsed)} after ${WARM_UP} requests → ` +
          `${mb(end.memory.heapUsed)} after ${TOTAL} (growth ${mb(growth)}, bound ${mb(BOUND)}); ` +
          `rss ${mb(baseline.memory.rss)} → ${mb(end.memory.rss)}; in flight ${end.inFlight}, ` +
          `dropped ${end.counts.dropped}`,
      );
      expect(growth).toBeLessThan(BOUND);
    } finally {
      agent.destroy();
    }
  });
});
