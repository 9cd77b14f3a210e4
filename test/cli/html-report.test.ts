import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED, type MainRecording, writeMainRecording, XSS_LINE } from './fixtures.js';
import { ensureCli, runCli, startServer, type TestServer } from './helpers.js';

// The HTML report, opened in a real headless Chromium (Debian's `chromium` package). CI installs it in
// .ci/run; when it is missing this test fails, it does not skip.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let baseline: TestServer;
let candidate: TestServer;
let rec: MainRecording;
let browser: Browser | undefined;
let html = '';
let reportFile = '';
let exitCode: number | null = null;

beforeAll(async () => {
  ensureCli();
  [baseline, candidate] = await Promise.all([startServer('baseline'), startServer('candidate')]);
  rec = writeMainRecording();
  reportFile = join(rec.dir, 'report.html');
  const result = await runCli([
    'replay',
    rec.v1,
    rec.hex,
    '--baseline',
    baseline.url,
    '--candidate',
    candidate.url,
    '--report',
    reportFile,
    '--fail-under',
    '90',
    '-q',
  ]);
  exitCode = result.code;
  html = readFileSync(reportFile, 'utf8');
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([baseline?.close(), candidate?.close()]);
});

async function openReport() {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the HTML report test needs Debian's chromium (apt-get install -y chromium)`,
    );
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('dialog', (dialog) => {
    errors.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(pathToFileURL(reportFile).href);
  return { page, requests, errors };
}

describe('the HTML report in Chromium', () => {
  it('shows the summary numbers and the gate', async () => {
    expect(exitCode).toBe(1);
    const { page } = await openReport();
    const metric = (name: string) => page.locator(`[data-metric="${name}"] .value`).textContent();
    expect(await metric('match-rate')).toBe(EXPECTED.matchRateText);
    expect(await metric('replayed')).toBe(String(EXPECTED.replayed));
    expect(await metric('match')).toBe(String(EXPECTED.match));
    expect(await metric('mismatch')).toBe(String(EXPECTED.mismatch));
    expect(await metric('status-mismatches')).toBe(String(EXPECTED.statusMismatches));
    expect(await metric('malformed')).toBe(String(EXPECTED.malformed));
    expect(await metric('errors')).toBe('0');
    expect(await page.getByTestId('gate').textContent()).toBe('FAIL');
    expect(await page.getByTestId('gate-line').textContent()).toContain('61.90 % < --fail-under 90 %');
    expect(await page.title()).toBe('canary-kit replay — FAIL');
    await page.close();
  });

  it('shows the per-route table', async () => {
    const { page } = await openReport();
    const rows = await page
      .getByTestId('routes-table')
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Array.from(
            tr.querySelectorAll('td'),
            (td: { textContent: string | null }) => td.textContent?.trim() ?? '',
          ),
        ),
      );
    const byRoute = Object.fromEntries(rows.map((cells) => [cells[0], cells]));
    expect(Object.keys(byRoute).sort()).toEqual([
      'GET /health',
      'GET /items/:id',
      'GET /orders/:id',
      'GET /users/:id',
    ]);
    // route, requests, match rate, match, mismatch, status mismatches, not compared, no answer, latencies…
    expect(byRoute['GET /items/:id']!.slice(0, 8)).toEqual([
      'GET /items/:id',
      '11',
      '0.00 %',
      '0',
      '11',
      '0',
      '0',
      '0',
    ]);
    expect(byRoute['GET /orders/:id']!.slice(0, 8)).toEqual([
      'GET /orders/:id',
      '5',
      '0.00 %',
      '0',
      '5',
      '5',
      '0',
      '0',
    ]);
    expect(byRoute['GET /users/:id']!.slice(0, 8)).toEqual([
      'GET /users/:id',
      '21',
      '100.00 %',
      '21',
      '0',
      '0',
      '0',
      '0',
    ]);
    for (const cells of rows) for (const latency of cells.slice(8)) expect(latency).toMatch(/^\d+(\.\d+)?$/);
    await page.close();
  });

  it('names exactly the planted fields, with sample diffs', async () => {
    const { page } = await openReport();
    const fields = await page
      .getByTestId('fields-table')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-field')));
    expect(fields.sort()).toEqual(['$.price', 'status']);
    const samples = await page.locator('details.sample').allInnerTexts();
    expect(samples.some((s) => s.includes('$.price') && s.includes('GET /items/'))).toBe(true);
    expect(samples.some((s) => s.includes('baseline 200 → candidate 409'))).toBe(true);
    await page.close();
  });

  it('draws bars in every chart: outcomes, latency of both sides, differing fields', async () => {
    const { page } = await openReport();
    const charts = await page.locator('svg.chart').evaluateAll((svgs) =>
      svgs.map((svg) => ({
        chart: svg.getAttribute('data-chart'),
        bars: svg.querySelectorAll('rect.bar, path.bar').length,
        baseline: svg.querySelectorAll('rect.bar.baseline').length,
        candidate: svg.querySelectorAll('rect.bar.candidate').length,
        width: svg.getBoundingClientRect().width,
      })),
    );
    expect(charts.map((c) => c.chart).sort()).toEqual(['fields', 'latency', 'outcomes']);
    for (const chart of charts) {
      expect(chart.bars, chart.chart ?? '').toBeGreaterThan(0);
      expect(chart.width).toBeGreaterThan(0);
    }
    const latency = charts.find((c) => c.chart === 'latency')!;
    expect(latency.baseline).toBeGreaterThan(0);
    expect(latency.candidate).toBeGreaterThan(0);
    expect(charts.find((c) => c.chart === 'fields')!.bars).toBe(2);
    await page.close();
  });

  it('is self-contained and shows recorded text as text', async () => {
    const { page, requests, errors } = await openReport();
    expect(requests).toEqual([pathToFileURL(reportFile).href]);
    expect(errors).toEqual([]);
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.title()).not.toContain('pwned');
    const malformed = await page.getByTestId('malformed-table').textContent();
    expect(malformed).toContain('<script>');
    for (const m of rec.malformed) expect(malformed).toContain(`${m.file}:${m.line}`);
    expect(html).not.toContain(XSS_LINE.slice(0, 12));
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[^\s"<]+/);
    await page.close();
  });
});
