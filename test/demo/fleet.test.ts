import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { runDemo } from './run-demo.js';

// `pnpm demo --fleet`: three replica processes, a real redis-server and a real prometheus (both installed in CI
// beside chromium). The demo starts and stops them itself, by pid.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Processes still running from the demo's temporary fleet directory (redis-server --dir, prometheus --storage). */
function leftovers(): string {
  try {
    return execFileSync('pgrep', ['-af', 'canary-kit-demo-fleet-'], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('pnpm demo --fleet', () => {
  it('says what is missing and exits 1 when a binary is not installed', async () => {
    const run = await runDemo(['--fleet'], tmpdir(), {
      env: { PROMETHEUS_BIN: '/nonexistent/prometheus' },
      timeoutMs: 30_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--fleet needs redis-server and prometheus; not found: prometheus');
  });

  it('rolls back the planted regression across three replicas analysed from Prometheus', async () => {
    ensureBuilt('core', 'fastify', 'redis', 'prometheus');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-demo-test-'));
    dirs.push(dir);
    const run = await runDemo(['--fleet', '--fast', '--out', 'fleet.html'], dir, { timeoutMs: 240_000 });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/steps reached 1 % → 5 % → 10 % → 25 %/);
    expect(run.stdout).toMatch(/ROLLED BACK at 25 %/);
    expect(run.stdout).toMatch(/^ {2}analyses: \d+ .*, source: prometheus$/m);
    expect(/^ {2}failed checks: (.*)$/m.exec(run.stdout)?.[1]).toContain('error-rate');
    expect(run.stdout).toMatch(/^ {4}differing field \$\.price: /m);
    expect(readFileSync(join(dir, 'fleet.html'), 'utf8')).toContain('3 replicas, Redis store');
    expect(leftovers()).toBe('');
  }, 250_000);
});
