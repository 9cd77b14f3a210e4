import { type Canary, createCanary } from '@canary-kit/core';

function next(canary: Canary, event: 'step' | 'analysis'): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    canary.once(event, (payload: unknown) => resolve(payload as Record<string, unknown>));
  });
}

/**
 * The rollout docs/rollout.md shows an `analysis` event of: `checkout-v2` on its first step (20 %), stable serving
 * 900 requests without an error, the canary 230 requests of which 45 failed with a 500, latencies fixed per
 * request so the run is the same every time. Run by the test that keeps the example in the docs true.
 */
export async function analysisEventOfScenario(): Promise<Record<string, unknown>> {
  const canary = createCanary({
    flags: {
      'checkout-v2': {
        rollout: { steps: [20, 50, 100], intervalMs: 1000, minRequests: 50, canaryVersionId: 'build-2041' },
      },
    },
  });
  const analysis = next(canary, 'analysis');
  try {
    await next(canary, 'step');
    // Latencies from a fixed sequence: stable 20–60 ms, canary 22–66 ms (10 % slower).
    for (let i = 0; i < 900; i++) canary.observeRollout('checkout-v2', 'stable', 200, 0.02 + (i % 41) / 1000);
    for (let i = 0; i < 230; i++) {
      const status = i % 5 === 0 && i < 225 ? 500 : 200;
      canary.observeRollout('checkout-v2', 'canary', status, (0.02 + (i % 41) / 1000) * 1.1);
    }
    return await analysis;
  } finally {
    await canary.close();
  }
}

/**
 * Time stamps differ between runs; everything else is the same every time. Numbers are compared to 10 significant
 * digits, so a last-bit difference in a math library cannot fail the docs.
 */
export function withoutTimes(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v) => {
      if (/^(at|from|to|startedAt|stepStartedAt)$/.test(key)) return '…';
      return typeof v === 'number' ? Number(v.toPrecision(10)) : v;
    }),
  );
}
