import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * examples/fastify-app as a user runs it: a child process on the built packages (dist/, no source
 * condition), on an ephemeral port whose URL it prints.
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const appDir = join(root, 'examples', 'fastify-app');
const tsdown = join(root, 'node_modules', '.bin', 'tsdown');

/** The example runs from dist/: build core and the adapter when they have never been built. */
function ensureBuilt(): void {
  for (const pkg of ['core', 'fastify']) {
    const dir = join(root, 'packages', pkg);
    if (!existsSync(join(dir, 'dist', 'index.js'))) execFileSync(tsdown, [], { cwd: dir, stdio: 'pipe' });
  }
}

function startApp(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        child.stdout!.off('data', onData);
        resolve({ child, url: match[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`example exited with ${code} before listening:\n${output}`)),
    );
  });
}

function parseCounts(exposition: string, route: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    const match = /^http_request_duration_seconds_count\{(.*)\} (\d+)$/.exec(line);
    if (!match || !match[1]!.includes(`route="${route}"`)) continue;
    const version = /version="([^"]*)"/.exec(match[1]!)![1]!;
    counts[version] = (counts[version] ?? 0) + Number(match[2]);
  }
  return counts;
}

describe('examples/fastify-app', () => {
  let app: { child: ChildProcess; url: string } | undefined;

  beforeAll(async () => {
    ensureBuilt();
    app = await startApp();
  });

  afterAll(async () => {
    const child = app?.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('splits /greeting between stable and canary and reports both versions on /metrics', async () => {
    const { url } = app!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const served: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${url}/greeting`, { headers: { 'x-user-id': `user-${i}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { version: string; greeting: string };
      expect(body.greeting).toBe(body.version === 'canary' ? 'Hello, and welcome back' : 'Hello');
      served[body.version] = (served[body.version] ?? 0) + 1;
    }
    // 60 ids at 50 %: both versions (a miss would be a 2^-59 event).
    expect(Object.keys(served).sort()).toEqual(['canary', 'stable']);

    // An anonymous visitor keeps its version through the sticky cookie.
    const first = await fetch(`${url}/greeting`);
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    expect(cookie).toMatch(/^canary_sid=/);
    const { version } = (await first.json()) as { version: string };
    for (let i = 0; i < 5; i++) {
      const again = await fetch(`${url}/greeting`, { headers: { cookie } });
      expect(((await again.json()) as { version: string }).version).toBe(version);
    }
    served[version] = (served[version] ?? 0) + 6;

    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(parseCounts(await metrics.text(), '/greeting')).toEqual(served);
  });
});
