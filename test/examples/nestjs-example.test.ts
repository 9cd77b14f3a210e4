import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createCanary } from '@canary-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/build.js';

// examples/nestjs-app runs the way its README says — `npm start` (tsdown, then node) — from the built
// packages, on each Nest platform: boot it on an ephemeral port, use it over HTTP, stop it.
const FLAG = 'checkout-v2';
const PERCENTAGE = 50;
const APP = join(ROOT, 'examples/nestjs-app');

interface Running {
  child: ChildProcess;
  base: string;
  output: string;
}

async function boot(platform: 'express' | 'fastify'): Promise<Running> {
  // Its own process group, so that stopping it stops npm, the shell and node together.
  const child = spawn('npm', ['run', '--silent', 'start'], {
    cwd: APP,
    env: { ...process.env, PORT: '0', PLATFORM: platform, CANARY_PERCENTAGE: String(PERCENTAGE) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const running: Running = { child, base: '', output: '' };
  running.base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      running.output += chunk.toString();
      const url = /listening on (http:\/\/[^\s]+:\d+)/.exec(running.output)?.[1];
      if (url) resolve(url);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      running.output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`the example exited (${code}) before listening:\n${running.output}`)),
    );
  });
  return running;
}

async function stop(running: Running | undefined): Promise<void> {
  const child = running?.child;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

for (const platform of ['express', 'fastify'] as const) {
  describe(`examples/nestjs-app on platform-${platform}`, () => {
    let app: Running | undefined;

    beforeAll(async () => {
      ensureBuilt('core', 'nestjs');
      app = await boot(platform);
    });

    afterAll(async () => {
      await stop(app);
    });

    it('prints its URL and splits /checkout between the stable and the canary controller by user', async () => {
      expect(app!.output).toContain(`platform-${platform}`);
      const reference = createCanary({
        flags: { [FLAG]: { percentage: PERCENTAGE, stickiness: ['userId', 'sessionId'] } },
        metrics: false,
      });
      const counts = { canary: 0, stable: 0 };
      try {
        for (let i = 0; i < 60; i++) {
          const userId = `user-${i}@example.com`;
          const response = await fetch(`${app!.base}/checkout`, { headers: { 'x-user-id': userId } });
          expect(response.status).toBe(200);
          const body = (await response.json()) as { version: 'canary' | 'stable'; total: number };
          expect(body.version, userId).toBe(reference.evaluate(FLAG, { userId }).version);
          // PricingService reached both controllers through constructor injection (design:paramtypes).
          expect(body.total).toBe(body.version === 'canary' ? 95 : 100);
          counts[body.version]++;
          const preview = await fetch(`${app!.base}/checkout-preview`, { headers: { 'x-user-id': userId } });
          expect(preview.status).toBe(body.version === 'canary' ? 200 : 404);
        }
      } finally {
        await reference.close();
      }
      expect(counts.canary).toBeGreaterThan(0);
      expect(counts.stable).toBeGreaterThan(0);

      const metrics = await fetch(`${app!.base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await metrics.text();
      for (const version of ['canary', 'stable'] as const) {
        expect(text).toContain(
          `http_request_duration_seconds_count{method="GET",route="/checkout",status_code="200",version="${version}"} ${counts[version]}`,
        );
      }
      expect(text).toContain(
        `http_request_duration_seconds_count{method="GET",route="/checkout-preview",status_code="404",version="stable"} ${counts.stable}`,
      );
      expect(text).toContain(`canary_kit_flag_percentage{flag="${FLAG}"} ${PERCENTAGE}`);
    });

    it('keeps an anonymous visitor on one version with the sticky cookie', async () => {
      const first = await fetch(`${app!.base}/checkout`);
      const cookie = first.headers.getSetCookie().find((c) => c.startsWith('canary_sid='));
      expect(cookie).toMatch(/^canary_sid=[\w-]+; .*HttpOnly; SameSite=Lax/);
      const { version } = (await first.json()) as { version: string };
      const pair = cookie!.split(';')[0]!;
      for (let i = 0; i < 20; i++) {
        const next = await fetch(`${app!.base}/checkout`, { headers: { cookie: pair } });
        expect(((await next.json()) as { version: string }).version).toBe(version);
      }
    });
  });
}
