import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Canary, createCanary, createMemoryStore, type StepEvent } from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Feeds the in-process windows directly, as RequestBinding.finish does for a flag-bound route. */
function feed(canary: Canary, flag: string) {
  const timer = setInterval(() => {
    for (let i = 0; i < 50; i++) {
      canary.observeRollout(flag, 'stable', 200, 0.05);
      canary.observeRollout(flag, 'canary', 200, 0.05);
    }
  }, 50);
  closers.push(async () => clearInterval(timer));
}

function make(config: Parameters<typeof createCanary>[0]) {
  const canary = createCanary(config);
  closers.push(() => canary.close());
  return canary;
}

describe('manual gates, promotion and manual rollback', () => {
  it('pauses at a pauseAt step until canary.promote, then goes on', async () => {
    const canary = make({
      flags: {
        f: { rollout: { steps: [10, 50, 75, 100], intervalMs: 1000, minRequests: 20, pauseAt: [50] } },
      },
    });
    const steps: StepEvent[] = [];
    canary.on('step', (e) => steps.push(e));
    const promotions: unknown[] = [];
    canary.on('promote', (e) => promotions.push(e));
    feed(canary, 'f');
    await until(() => canary.rolloutState('f')?.phase === 'paused', 'the gate');
    expect(canary.getFlag('f')?.percentage).toBe(50);
    // Passing analyses do not move a paused rollout.
    await until(() => (canary.analysisCounts.get('f')?.pass ?? 0) >= 3, 'analyses while paused');
    expect(canary.rolloutState('f')).toMatchObject({ phase: 'paused', stepIndex: 1 });
    expect(await canary.promote('f')).toBe(true);
    expect(canary.getFlag('f')?.percentage).toBe(75);
    expect(promotions).toHaveLength(1);
    await until(() => canary.rolloutState('f')?.phase === 'complete', 'completion');
    expect(steps.map((s) => [s.percentage, s.cause])).toEqual([
      [10, 'started'],
      [50, 'advanced'],
      [50, 'paused'],
      [75, 'resumed'],
    ]);
  });

  it('a manual rollback serves stable at once and is not undone by the controller', async () => {
    const canary = make({
      flags: { f: { percentage: 0, rollout: { steps: [10, 100], intervalMs: 1000, minRequests: 20 } } },
    });
    feed(canary, 'f');
    await until(() => canary.rolloutState('f')?.phase === 'progressing', 'the start');
    expect(await canary.rollback('f', 'pager went off')).toBe(true);
    expect(canary.evaluate('f', { userId: 'u' }).reason).toBe('rolled-back');
    const from = Date.now();
    await until(() => Date.now() - from > 2500, 'two intervals');
    expect(canary.rolloutState('f')?.phase).toBe('rolled-back');
  });

  it('a new canaryVersionId starts a fresh rollout even after a rollback (shared store)', async () => {
    const store = createMemoryStore();
    const first = make({
      flags: { f: { rollout: { steps: [10, 100], intervalMs: 1000, canaryVersionId: 'v2.0.0' } } },
      store,
    });
    await until(() => first.rolloutState('f')?.phase === 'progressing', 'the first rollout');
    await first.rollback('f');
    await first.close();
    const second = make({
      flags: { f: { rollout: { steps: [10, 100], intervalMs: 1000, canaryVersionId: 'v2.0.1' } } },
      store,
    });
    await second.ready();
    // The store's flags win over the passed config: the new build id arrives as a config change.
    await second.replaceConfig({
      flags: { f: { rollout: { steps: [10, 100], intervalMs: 1000, canaryVersionId: 'v2.0.1' } } },
    });
    await until(() => second.rolloutState('f')?.canaryVersionId === 'v2.0.1', 'the fresh rollout');
    expect(second.rolloutState('f')).toMatchObject({ phase: 'progressing', stepIndex: 0 });
  });
});

describe('webhook', () => {
  it('POSTs step, rollback and failed analyses as JSON', async () => {
    const received: { event: string; flag: string }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const canary = make({
      flags: { f: { rollout: { steps: [10, 100], intervalMs: 1000, minRequests: 20, failureLimit: 1 } } },
      rollout: {
        webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/canary` },
      },
    });
    const timer = setInterval(() => {
      for (let i = 0; i < 50; i++) {
        canary.observeRollout('f', 'stable', 200, 0.05);
        canary.observeRollout('f', 'canary', i % 2 ? 500 : 200, 0.05);
      }
    }, 50);
    closers.push(async () => clearInterval(timer));
    await until(() => received.some((r) => r.event === 'rollback'), 'the rollback notification');
    expect(received.map((r) => r.event)).toEqual(['step', 'analysis', 'rollback']);
    expect(received.every((r) => r.flag === 'f')).toBe(true);
  });
});
