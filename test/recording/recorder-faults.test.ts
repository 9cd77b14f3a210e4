// The recorder never touches the primary path: with its queue full or its file unwritable, every response is
// the one the same app gives with the recorder off, and every sampled request is accounted for exactly once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Canary } from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS, type App, canaryWith, recorderMetric, startApp, tempDir, until } from './apps.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BURST = 40;

interface Seen {
  readonly status: number;
  readonly body: string;
}

/** A burst of concurrent requests (GETs and POSTs with secrets), answers in request order. */
async function burst(base: string, round: number): Promise<Seen[]> {
  return Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const n = round * BURST + i;
      const headers = { authorization: `Bearer s-${n}`, 'x-user': `u-${n}` };
      const res =
        n % 3 === 0
          ? await fetch(`${base}/orders?token=t-${n}`, {
              method: 'POST',
              headers: { ...headers, 'content-type': 'application/json' },
              body: JSON.stringify({ qty: n, password: `p-${n}`, card: { number: '4111', brand: 'visa' } }),
            })
          : await fetch(`${base}/orders/o${n}?api_key=k-${n}`, { headers });
      return { status: res.status, body: await res.text() };
    }),
  );
}

async function start(adapter: (typeof ADAPTERS)[number], canary: Canary): Promise<App> {
  cleanups.push(() => canary.close());
  const app = await startApp(adapter, canary);
  cleanups.push(() => app.close());
  return app;
}

const total = (c: Record<string, number>) => (c.written ?? 0) + (c.dropped ?? 0) + (c.error ?? 0);

describe.each(ADAPTERS)('recorder faults through %s', (adapter) => {
  it('a full queue drops records, never a response; written + dropped + error == sampled', async () => {
    const tmp = tempDir('canary-kit-faults-');
    cleanups.push(tmp.remove);
    const canary = canaryWith({
      path: join(tmp.dir, 'requests.jsonl'),
      sampleRate: 1,
      withResponse: true,
      maxQueueLines: 2,
    });
    const recorded = await start(adapter, canary);
    const plain = await start(adapter, canaryWith(undefined));

    let sent = 0;
    // Bursts until the queue has overflowed at least once (the first one nearly always does).
    for (let round = 0; round < 20 && (canary.stats().recorder?.dropped ?? 0) === 0; round++) {
      const withRecorder = await burst(recorded.base, round);
      const without = await burst(plain.base, round);
      sent += BURST;
      expect(withRecorder).toEqual(without);
      expect(withRecorder.every((s) => s.status === 200 || s.status === 201)).toBe(true);
    }
    const stats = () => canary.stats().recorder!;
    expect(stats().dropped).toBeGreaterThan(0);
    await until(() => total(stats()) === sent, 'every sampled request to be counted');
    await canary.recorder!.flush();
    expect(total(stats())).toBe(sent);
    expect(stats().written).toBeGreaterThan(0);
    expect(await recorderMetric(canary)).toEqual(stats());
    await canary.close();
    expect(total(stats())).toBe(sent);
  });

  it('an unwritable path (under a regular file) errors every record, never a response', async () => {
    const tmp = tempDir('canary-kit-faults-');
    cleanups.push(tmp.remove);
    const notADir = join(tmp.dir, 'a-file');
    writeFileSync(notADir, 'not a directory');
    const canary = canaryWith({
      path: join(notADir, 'requests.jsonl'),
      sampleRate: 1,
      withResponse: true,
    });
    const errors: Error[] = [];
    canary.on('error', (error) => errors.push(error));
    const recorded = await start(adapter, canary);
    const plain = await start(adapter, canaryWith(undefined));

    const withRecorder = await burst(recorded.base, 0);
    const without = await burst(plain.base, 0);
    expect(withRecorder).toEqual(without);
    expect(withRecorder.every((s) => s.status === 200 || s.status === 201)).toBe(true);

    const stats = () => canary.stats().recorder!;
    await until(() => total(stats()) === BURST, 'every sampled request to be counted');
    await canary.recorder!.flush();
    expect(stats().written).toBe(0);
    expect(stats().error + stats().dropped).toBe(BURST);
    expect(stats().error).toBeGreaterThan(0);
    // The writer creates the directory first: mkdir on a regular file fails with EEXIST (ENOTDIR on open).
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => /(ENOTDIR|EEXIST).*a-file/.test(e.message))).toBe(true);
    expect(await recorderMetric(canary)).toEqual(stats());
    await canary.close();
    expect(total(stats())).toBe(BURST);
  });
});
