// The minimal canary-kit demo: one service, two versions, live traffic, the percentage stepped up.
// Shows deterministic bucketing (every user keeps their version), monotonic rollout (raising the
// percentage only moves users stable → canary) and the version-labelled metrics.
import { createServer } from 'node:http';
import { createCanary, RequestBinding } from '@canary-kit/core';

const FLAG = 'checkout-v2';
const STEPS = [1, 5, 10, 25, 50, 100];
const USERS = Array.from({ length: 2000 }, (_, i) => `user-${i}@example.com`);

const canary = createCanary({ flags: { [FLAG]: { percentage: 0, stickiness: ['userId', 'sessionId'] } } });
canary.on('change', (e) =>
  console.log(`  change: ${e.flag} ${e.before?.percentage}% → ${e.after?.percentage}% (${e.source})`),
);
const binding = new RequestBinding(canary, { context: (req) => ({ userId: req.headers['x-user-id'] }) });

const server = createServer((req, res) => {
  const state = binding.start(req, req.headers, false);
  if (req.url === '/metrics') {
    canary.metrics.registry.metrics().then((text) => res.end(text));
    return;
  }
  const version = state.canary.evaluate(FLAG).version;
  res.on('finish', () => binding.finish(state, req.method ?? 'GET', '/checkout', res.statusCode, FLAG));
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify(
      version === 'canary' ? { version: 'v2', total: 41.5, currency: 'NZD' } : { version: 'v1', total: 41.5 },
    ),
  );
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
console.log(`canary-kit demo: a service at ${base}, flag "${FLAG}", ${USERS.length} users\n`);

const lastVersion = new Map();
for (const step of STEPS) {
  await canary.setPercentage(FLAG, step);
  let onCanary = 0;
  let movedBack = 0;
  for (let i = 0; i < USERS.length; i += 50) {
    const batch = USERS.slice(i, i + 50);
    const bodies = await Promise.all(
      batch.map((u) => fetch(`${base}/checkout`, { headers: { 'x-user-id': u } }).then((r) => r.json())),
    );
    bodies.forEach((body, j) => {
      const user = batch[j];
      if (body.version === 'v2') onCanary++;
      if (lastVersion.get(user) === 'v2' && body.version === 'v1') movedBack++;
      lastVersion.set(user, body.version);
    });
  }
  const share = ((onCanary / USERS.length) * 100).toFixed(1);
  console.log(
    `  step ${String(step).padStart(3)} %: ${share.padStart(5)} % of users on v2, ${movedBack} moved back to v1\n`,
  );
}

const metrics = await (await fetch(`${base}/metrics`)).text();
console.log('metrics (excerpt):');
for (const line of metrics.split('\n')) {
  if (
    /^http_request_duration_seconds_count|^canary_kit_decisions_total|^canary_kit_flag_percentage/.test(line)
  )
    console.log(`  ${line}`);
}
console.log('\nEvery user kept their version as the percentage rose; none moved back. Done.');
server.close();
await canary.close();
