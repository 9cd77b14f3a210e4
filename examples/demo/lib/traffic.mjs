// The built-in traffic generator: a steady rate of shoppers (many users, keep-alive connections through an
// undici pool per app), checkouts and product views mixed, every answer recorded as the shopper saw it.

import { performance } from 'node:perf_hooks';
import { seededRandom } from '@canary-kit/core';
import { Pool } from 'undici';
import { PRODUCT_COUNT } from './shop.mjs';

/**
 * Sends `rate` requests a second, spread over `targets` (round robin), until `stop()`. A share
 * `checkoutShare` are checkouts (POST, the flag's route), the rest product views (GET, mirrored to the shadow
 * candidate). At most `maxInFlight` requests are open at once: a request due while that many are open is not
 * sent and counted in `skipped`, so a slow app never makes the generator pile up work. `clock()` stamps each
 * answer (ms since the demo started).
 */
export function startTraffic({
  targets,
  rate,
  users = 5_000,
  checkoutShare = 0.75,
  maxInFlight = 256,
  onResult,
  clock,
  seed = 42,
}) {
  const random = seededRandom(seed);
  const counts = { sent: 0, skipped: 0, failed: 0 };
  const startedAt = performance.now();
  let inFlight = 0;
  let due = 0;
  let next = 0;
  let stopped = false;
  const pending = new Set();
  const pools = targets.map((url) => new Pool(url, { connections: 32, keepAliveTimeout: 10_000 }));

  const one = async () => {
    const pool = pools[next++ % pools.length];
    const userId = `user-${Math.floor(random() * users)}`;
    const isCheckout = random() < checkoutShare;
    const productId = 1 + Math.floor(random() * PRODUCT_COUNT);
    const started = performance.now();
    let status = 0;
    let servedBy = null;
    try {
      const response = isCheckout
        ? await pool.request({
            method: 'POST',
            path: '/api/checkout',
            headers: { 'content-type': 'application/json', 'x-user-id': userId },
            body: JSON.stringify({ userId, items: [{ id: productId, qty: 1 + (productId % 3) }] }),
          })
        : await pool.request({
            method: 'GET',
            path: `/api/products/${productId}`,
            headers: { 'x-user-id': userId },
          });
      await response.body.dump();
      status = response.statusCode;
      servedBy = response.headers['x-served-by'] ?? null;
    } catch {
      counts.failed++;
    }
    onResult({
      at: clock ? clock() : performance.now() - startedAt,
      route: isCheckout ? 'checkout' : 'product',
      servedBy,
      status,
      seconds: (performance.now() - started) / 1000,
    });
  };

  const tick = () => {
    if (stopped) return;
    const elapsed = (performance.now() - startedAt) / 1000;
    due = Math.floor(elapsed * rate) - counts.sent - counts.skipped;
    for (; due > 0; due--) {
      if (inFlight >= maxInFlight) {
        counts.skipped++;
        continue;
      }
      counts.sent++;
      inFlight++;
      const p = one().finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
  };
  const timer = setInterval(tick, 10);

  return {
    counts,
    get inFlight() {
      return inFlight;
    },
    /** Stops sending, waits for the requests still open and closes the connections. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled([...pending]);
      await Promise.allSettled(pools.map((p) => p.close()));
    },
  };
}
