import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createCanary } from '@canary-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/build.js';

// The example runs from the built packages, as a user's app would: boot it, use it over HTTP, stop it.
const FLAG = 'checkout-v2';
const PERCENTAGE = 50;

let child: ChildProcess | undefined;
let base = '';
let output = '';

beforeAll(async () => {
  ensureBuilt('core', 'express');
  child = spawn(process.execPath, [join(ROOT, 'examples/express-app/server.mjs')], {
    env: { ...process.env, PORT: '0', CANARY_PERCENTAGE: String(PERCENTAGE) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /http:\/\/[^\s]+:\d+/.exec(output)?.[0];
      if (url) resolve(url);
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child!.once('exit', (code) =>
      reject(new Error(`the example exited (${code}) before listening:\n${output}`)),
    );
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('examples/express-app', () => {
  it('splits /checkout between stable and canary by user and reports both versions at /metrics', async () => {
    const reference = createCanary({
      flags: { [FLAG]: { percentage: PERCENTAGE, stickiness: ['userId', 'sessionId'] } },
      metrics: false,
    });
    const counts = { canary: 0, stable: 0 };
    for (let i = 0; i < 80; i++) {
      const userId = `user-${i}@example.com`;
      const response = await fetch(`${base}/checkout`, { headers: { 'x-user-id': userId } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { version: 'canary' | 'stable' };
      expect(body.version, userId).toBe(reference.evaluate(FLAG, { userId }).version);
      counts[body.version]++;
    }
    await reference.close();
    expect(counts.canary).toBeGreaterThan(0);
    expect(counts.stable).toBeGreaterThan(0);

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    for (const version of ['canary', 'stable'] as const) {
      expect(text).toContain(
        `http_request_duration_seconds_count{method="GET",route="/checkout",status_code="200",version="${version}"} ${counts[version]}`,
      );
    }
    expect(text).toContain(`canary_kit_flag_percentage{flag="${FLAG}"} ${PERCENTAGE}`);
  });

  it('gives an anonymous visitor a sticky cookie that keeps their version', async () => {
    const first = await fetch(`${base}/checkout`);
    const cookie = first.headers.getSetCookie()[0] ?? '';
    expect(cookie).toMatch(/^canary_sid=[\w-]+; .*HttpOnly; SameSite=Lax/);
    const { version } = (await first.json()) as { version: string };
    for (let i = 0; i < 10; i++) {
      const again = await fetch(`${base}/checkout`, { headers: { cookie: cookie.split(';')[0]! } });
      expect(((await again.json()) as { version: string }).version).toBe(version);
    }
  });
});
