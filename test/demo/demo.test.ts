import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { launchChromium } from '../helpers/chromium.js';
import { type DemoRun, runDemo } from './run-demo.js';

// The README's first command, as a user runs it: examples/demo/demo.mjs in a child process on the built
// packages (dist/), without a TTY, with the shorter --fast schedule (the same code path, a 2.5 s interval).
// The rollout controller and the analysis are the real ones: nothing here decides the rollback.

const CHARTS = ['traffic', 'rate', 'errors', 'p95', 'shadow'];

let dir = '';
let reportFile = '';
let run: DemoRun;
let browser: Browser | undefined;

beforeAll(async () => {
  ensureBuilt('core', 'fastify');
  dir = mkdtempSync(join(tmpdir(), 'canary-kit-demo-'));
  reportFile = join(dir, 'out', 'report.html');
  run = await runDemo(['--fast', '--out', 'out/report.html'], dir);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pnpm demo (--fast, no TTY)', () => {
  it('rolls back the planted regression at the step it appears, and exits 0', () => {
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain('canary-kit demo — summary');
    expect(run.stdout).toMatch(/steps reached 1 % → 5 % → 10 % → 25 %/);
    expect(run.stdout).toMatch(/ROLLED BACK at 25 %/);
    expect(run.stdout).toContain(
      'The planted regression was caught at 25 % and rolled back by the rollout controller.',
    );
    // The reason is the analysis's own, with its figures.
    const reason = /^ {2}reason: (.*)$/m.exec(run.stdout)?.[1] ?? '';
    expect(reason).toMatch(/canary error rate \d+(\.\d+)? % \(\d+ of \d+\)/);
    expect(/^ {2}failed checks: (.*)$/m.exec(run.stdout)?.[1]).toContain('error-rate');
    expect(run.stdout).toMatch(/the failing analysis: canary \(v2\) [\d,]+ requests, \d+\.\d+ % errors, p95/);
    // Non-TTY output: plain lines, no ANSI escapes.
    expect(run.stdout).not.toContain('\x1b[');
    expect(run.stdout).toMatch(/^\[ {0,4}\d+\.\d s\] step: rollout started at 1 %$/m);
    expect(run.stdout).toMatch(/^\[ {0,4}\d+\.\d s\] ROLLBACK at 25 % → 0 %: /m);
  });

  it('names the shadow candidate’s differing field, with a match rate below 100 %', () => {
    const shadow = /^ {2}shadow catalog-v2: ([\d,]+) compared, match rate (\d+\.\d) %/m.exec(run.stdout);
    expect(shadow, run.stdout).not.toBeNull();
    expect(Number(shadow![1]!.replace(/,/g, ''))).toBeGreaterThan(0);
    const rate = Number(shadow![2]);
    expect(rate).toBeGreaterThan(50);
    expect(rate).toBeLessThan(100);
    expect(run.stdout).toMatch(
      /^ {4}differing field \$\.price: [\d,]+ times, e\.g\. \/api\/products\/\d+: v1 /m,
    );
    // $.servedAt differs in every answer but is on the ignore list: never reported.
    expect(run.stdout).not.toContain('$.servedAt');
  });

  it('prints the totals and the report path', () => {
    expect(run.stdout).toMatch(/^ {2}totals: [\d,]+ requests in \d+\.\d s/m);
    expect(run.stdout).toContain(`report: ${reportFile}`);
    expect(existsSync(reportFile)).toBe(true);
  });

  it('writes a self-contained HTML report that draws every chart in Chromium without errors', async () => {
    const html = readFileSync(reportFile, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
    browser ??= await launchChromium();
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(reportFile).href;
    await page.goto(url);

    for (const id of CHARTS) {
      const chart = page.locator(`svg.chart[data-chart="${id}"]`);
      await expect(chart.count()).resolves.toBe(1);
      const box = await chart.boundingBox();
      expect(box!.width, id).toBeGreaterThan(300);
      expect(box!.height, id).toBeGreaterThan(80);
      // Every series of the chart has a drawn line: a path with at least two points and a real length.
      const series = await chart.locator('path.series').evaluateAll((paths) =>
        paths.map((p) => ({
          name: p.getAttribute('data-series'),
          points: (p.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0,
          length: (p as unknown as { getTotalLength(): number }).getTotalLength(),
        })),
      );
      expect(series.length, id).toBeGreaterThan(0);
      for (const s of series) {
        expect(s.points, `${id} / ${s.name}`).toBeGreaterThanOrEqual(2);
        expect(s.length, `${id} / ${s.name}`).toBeGreaterThan(10);
      }
    }
    // The traffic chart marks the steps and the rollback.
    const labels = await page.locator('svg.chart[data-chart="traffic"] text.marker-label').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['1 %', '5 %', '10 %', '25 %', 'rollback']));
    await expect(page.locator('.verdict').textContent()).resolves.toMatch(/^Rolled back at 25 %/);
    await expect(page.locator('body').textContent()).resolves.toContain('$.price');
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
  });
});

describe('demo options', () => {
  it('refuses a bad option with a message naming it, exit code 2', async () => {
    const bad = await runDemo(['--duration', 'soon'], tmpdir(), { timeoutMs: 30_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--duration: must be a number, got "soon"');
    const unknown = await runDemo(['--colour'], tmpdir(), { timeoutMs: 30_000 });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option "--colour"');
  });

  it('exits 1 when the run ends without a rollback; --quiet prints the summary only', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'canary-kit-demo-quiet-'));
    try {
      // At 50 requests a second the 1 % step cannot gather its 15 canary requests in 10 s: no step past it.
      const short = await runDemo(['--fast', '--quiet', '--duration', '10', '--rate', '50'], cwd, {
        timeoutMs: 60_000,
      });
      expect(short.code).toBe(1);
      expect(short.stdout).toContain('NOT ROLLED BACK: the run ended at 1 % (progressing) before a rollback');
      expect(short.stdout).toContain('The planted regression was not rolled back within the run.');
      expect(short.stdout).not.toMatch(/^\[/m);
      expect(existsSync(join(cwd, 'canary-kit-demo-report.html'))).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('prints its usage with --help', async () => {
    const help = await runDemo(['--help'], tmpdir(), { timeoutMs: 30_000 });
    expect(help.code).toBe(0);
    for (const option of ['--duration', '--out', '--rate', '--fast', '--quiet', '--fleet'])
      expect(help.stdout).toContain(option);
  });
});
