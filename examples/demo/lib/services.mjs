// The two other services the demo runs beside the stable app, as plain node:http servers:
//
// - the canary **v2 upstream**: the checkout, rewritten. Healthy at the first steps; from `regressionFrom` %
//   on it fails one request in eight with a 500 and makes one in three 250 ms slower — the planted regression.
//   It learns the current percentage from `currentPercentage()` so the regression appears at the same step in
//   every run whatever the machine's speed (in real life: a bug that only shows under the load of a bigger
//   share). The analysis that catches it never sees this switch: only the answers.
// - the **inventory service** v1's checkout asks for stock over HTTP (v2 has the stock check built in): so each
//   version's checkout makes one local HTTP round trip, and both feel a busy event loop the same way.
// - the **shadow candidate**: the catalogue, rewritten. It answers every product like v1 except the `price` of
//   products on sale, where it applies the sale discount a second time — the planted difference.

import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHECKOUT_WORK_MS, checkout, productResponse } from './shop.mjs';

const SLOW_MS = 250;

function listen(server) {
  server.keepAliveTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch {
        resolve({});
      }
    });
    req.on('error', () => resolve({}));
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-served-by': 'v2',
  });
  res.end(text);
}

/**
 * The canary upstream. `regressionFrom` (a percentage) and `currentPercentage()` plant the regression;
 * `counts` says what it did, for the summary.
 */
export async function startV2Upstream({ regressionFrom, currentPercentage }) {
  const counts = { requests: 0, failed: 0, slowed: 0 };
  let n = 0;
  const server = createServer(async (req, res) => {
    if (req.url === '/health') return send(res, 200, { ok: true });
    if (req.method !== 'POST' || req.url !== '/api/checkout') return send(res, 404, { error: 'not found' });
    const body = await readBody(req);
    counts.requests++;
    n++;
    const regressed = currentPercentage() >= regressionFrom;
    if (regressed && n % 8 === 0) {
      counts.failed++;
      return send(res, 500, { error: 'inventory lookup failed: connection pool exhausted' });
    }
    await sleep(CHECKOUT_WORK_MS);
    if (regressed && n % 3 === 0) {
      counts.slowed++;
      await sleep(SLOW_MS);
    }
    send(res, 200, checkout(body, 'v2'));
  });
  const handle = await listen(server);
  return { ...handle, counts };
}

/** The stock service of v1's checkout: a few ms per answer. */
export async function startInventory() {
  const server = createServer(async (req, res) => {
    await sleep(CHECKOUT_WORK_MS);
    const text = JSON.stringify({ path: req.url, inStock: true });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  return listen(server);
}

/** The shadow candidate: v1's catalogue with the sale discount applied twice to `price`. */
export async function startShadowCandidate() {
  const counts = { requests: 0 };
  const server = createServer((req, res) => {
    counts.requests++;
    const match = /^\/api\/products\/(\d+)$/.exec(req.url ?? '');
    if (!match) return send(res, req.url === '/health' ? 200 : 404, { ok: req.url === '/health' });
    const answer = productResponse(Number(match[1]));
    if (answer.onSale) answer.price = Math.round(answer.price * 90) / 100;
    send(res, 200, answer);
  });
  const handle = await listen(server);
  return { ...handle, counts };
}

/** The three services beside the stable app; `currentPercentage()` feeds v2's planted regression. */
export async function startServices({ regressionFrom, currentPercentage }) {
  const [v2, candidate, inventory] = await Promise.all([
    startV2Upstream({ regressionFrom, currentPercentage }),
    startShadowCandidate(),
    startInventory(),
  ]);
  return {
    v2,
    candidate,
    inventory,
    close: () => Promise.all([v2.close(), candidate.close(), inventory.close()]),
  };
}
