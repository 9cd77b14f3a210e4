import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers/build.js';

// Packages ship ESM only; Node ≥ 20.19 lets a CommonJS app require() them. Check it on the built files.
describe('CommonJS apps can require() the packages', () => {
  it('@canary-kit/core', () => {
    ensureBuilt('core');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cjs-'));
    const file = join(dir, 'app.cjs');
    writeFileSync(
      file,
      `const { createCanary, CanaryConfigError } = require(${JSON.stringify(join(ROOT, 'packages/core'))});
const canary = createCanary({ flags: { checkout: { percentage: 100 } } });
let configError = false;
try { createCanary({ flags: { checkout: { percentage: 101 } } }); } catch (e) { configError = e instanceof CanaryConfigError; }
process.stdout.write(JSON.stringify({ decision: canary.evaluate('checkout', { userId: 'u1' }), configError }));
canary.close();
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
    expect(out).toEqual({
      decision: { flag: 'checkout', version: 'canary', reason: 'percentage', bucket: expect.any(Number) },
      configError: true,
    });
  });

  it('@canary-kit/openfeature, beside the CommonJS build of @openfeature/server-sdk', () => {
    ensureBuilt('core', 'openfeature');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cjs-'));
    const file = join(dir, 'app.cjs');
    const pkg = join(ROOT, 'packages/openfeature');
    // The app's require() loads the SDK's CommonJS build, the provider's dist its ESM build: OpenFeature's
    // global API singleton makes them one API, which is what this checks.
    writeFileSync(
      file,
      `const { createCanary } = require(${JSON.stringify(join(ROOT, 'packages/core'))});
const { CanaryProvider } = require(${JSON.stringify(pkg)});
const { OpenFeature } = require(${JSON.stringify(join(pkg, 'node_modules/@openfeature/server-sdk'))});
(async () => {
  const canary = createCanary({ flags: { checkout: { percentage: 0, users: ['alice'] } }, metrics: false });
  await OpenFeature.setProviderAndWait(new CanaryProvider(canary));
  const d = await OpenFeature.getClient().getBooleanDetails('checkout', false, { targetingKey: 'alice' });
  await OpenFeature.close();
  await canary.close();
  process.stdout.write(JSON.stringify({ value: d.value, variant: d.variant, reason: d.reason }));
})();
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
    expect(out).toEqual({ value: true, variant: 'canary', reason: 'TARGETING_MATCH' });
  });

  it('@canary-kit/prometheus', () => {
    ensureBuilt('core', 'prometheus');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cjs-'));
    const file = join(dir, 'app.cjs');
    writeFileSync(
      file,
      `const { createCanary } = require(${JSON.stringify(join(ROOT, 'packages/core'))});
const { PrometheusSource, DEFAULT_QUERY_TEMPLATES } = require(${JSON.stringify(join(ROOT, 'packages/prometheus'))});
const source = new PrometheusSource({ url: 'http://127.0.0.1:9090', selector: 'job="shop"' });
const canary = createCanary({ flags: { checkout: { percentage: 0 } }, metrics: false, rollout: { source } });
process.stdout.write(JSON.stringify({ kind: source.kind, requests: source.queriesFor('checkout', 'canary', 60).requests, hasLatency: typeof DEFAULT_QUERY_TEMPLATES.latency }));
canary.close();
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
    expect(out).toEqual({
      kind: 'prometheus',
      requests: 'sum(increase(http_request_duration_seconds_count{job="shop",version="canary"}[60s]))',
      hasLatency: 'string',
    });
  });

  it('@canary-kit/redis', () => {
    ensureBuilt('core', 'redis');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cjs-'));
    const file = join(dir, 'app.cjs');
    // Nothing listens on port 1: the store fails fast with its own error class, and nothing crashes.
    writeFileSync(
      file,
      `const { createRedisStore, createLeaderLease, RedisUnavailableError } = require(${JSON.stringify(join(ROOT, 'packages/redis'))});
const store = createRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 });
const lease = createLeaderLease({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 });
store.load().catch(async (e) => {
  await store.close();
  await lease.close();
  process.stdout.write(JSON.stringify({ kind: store.kind, unavailable: e instanceof RedisUnavailableError, leader: lease.isLeader() }));
});
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
    expect(out).toEqual({ kind: 'redis', unavailable: true, leader: false });
  });
});
