// The examples of docs/experiments.md, with stand-ins for the app's code: they type-check and do what the page says.
import { createCanary, type MismatchEvent } from '@canary-kit/core';
import { describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import { expectNoUnhandledRejections } from './support.js';

expectNoUnhandledRejections();

interface Cart {
  readonly prices: readonly number[];
}
interface User {
  readonly id: string;
}
interface Quote {
  readonly quoteId: string;
  readonly total: number;
  readonly lines: readonly number[];
}

let quotes = 0;
const legacyQuote = (cart: Cart): Quote => ({
  quoteId: `q-${++quotes}`,
  total: cart.prices.reduce((a, b) => a + b, 0),
  lines: [...cart.prices],
});
// The rewrite rounds differently: within the tolerance for small carts, off by a cent for the `bug` cart.
const newQuote = (cart: Cart): Quote => ({
  quoteId: `q-${++quotes}`,
  total: cart.prices.reduce((a, b) => a + b, 0) + (cart.prices.length > 3 ? 0.01 : 0.001),
  lines: [...cart.prices],
});

describe('docs/experiments.md', () => {
  it('the first example: flag, context, differ options, clean, the mismatch event', async () => {
    const canary = createCanary({ flags: { 'pricing-v2': { percentage: 0, users: ['u-42', 'u-7'] } } });
    const log: { experiment: string; differences: unknown }[] = [];

    function quote(cart: Cart, user: User): Quote {
      return canary.experiment('pricing-v2', {
        control: () => legacyQuote(cart),
        candidate: () => newQuote(cart),
        flag: 'pricing-v2',
        context: { userId: user.id },
        ignore: ['$.quoteId'],
        tolerance: 0.005,
        clean: (q) => ({ total: q.total, lines: q.lines.length }),
      });
    }
    const events: MismatchEvent[] = [];
    canary.on('mismatch', (m) => {
      events.push(m);
      if (m.kind === 'experiment') log.push({ experiment: m.experiment, differences: m.differences });
    });

    const small = quote({ prices: [1, 2] }, { id: 'u-42' });
    const big = quote({ prices: [1, 2, 3, 4] }, { id: 'u-7' });
    const notOnCanary = quote({ prices: [1, 2, 3, 4] }, { id: 'someone' });
    expect([small.total, big.total, notOnCanary.total]).toEqual([3, 10, 10]);
    await until(() => events.length === 1, 'the mismatch');
    expect(canary.stats().experiments['pricing-v2']).toMatchObject({ match: 1, mismatch: 1, skipped: 1 });
    expect(events[0]).toMatchObject({
      kind: 'experiment',
      context: { userId: 'u-7' },
      control: { total: 10, lines: 4 },
      candidate: { total: 10.01, lines: 4 },
    });
    expect(log).toEqual([
      {
        experiment: 'pricing-v2',
        differences: [{ path: '$.total', kind: 'changed', primary: 10, candidate: 10.01 }],
      },
    ]);
    await canary.close();
  });

  it('defineExperiment: settings once, calls many', async () => {
    const canary = createCanary({ flags: { 'pricing-v2': { percentage: 100 } } });
    const pricing = canary.defineExperiment<Quote>('pricing-v2', {
      flag: 'pricing-v2',
      ignore: ['$.quoteId'],
    });
    const quote = (cart: Cart, user: User) =>
      pricing({
        control: () => legacyQuote(cart),
        candidate: () => newQuote(cart),
        context: { userId: user.id },
      });
    const q = quote({ prices: [5] }, { id: 'u-1' });
    expect(q.total).toBe(5);
    // No tolerance here: 5 vs 5.001 is a mismatch.
    await until(() => canary.stats().experiments['pricing-v2']?.mismatch === 1, 'the mismatch');
    await canary.close();
  });
});
