import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXPECTED, type MainRecording, writeMainRecording, writeUsers } from './fixtures.js';
import { ensureCli, runCli, spawnCli, startServer, type TestServer, v1Line } from './helpers.js';

// The real binary (packages/cli/dist/cli.js) against two real HTTP servers; the candidate has exactly two
// planted differences (`$.price` on GET /items/:id, a 409 status on GET /orders/:id).

let baseline: TestServer;
let candidate: TestServer;
let rec: MainRecording;

beforeAll(async () => {
  ensureCli();
  [baseline, candidate] = await Promise.all([startServer('baseline'), startServer('candidate')]);
  rec = writeMainRecording();
});

afterAll(async () => {
  await Promise.all([baseline?.close(), candidate?.close()]);
});

beforeEach(() => {
  baseline.reset();
  candidate.reset();
});

interface Report {
  mode: string;
  totals: Record<string, number> & { notReplayed: Record<string, number> };
  matchRate: number | null;
  gate: { failUnder: number; passed: boolean };
  latency: {
    baseline: { count: number; p50: number | null; p95: number | null; p99: number | null };
    candidate: { count: number; p50: number | null; p95: number | null; p99: number | null };
    ratio: { p50: number | null; p95: number | null; p99: number | null };
    histogram: { edgesMs: number[]; baseline: number[]; candidate: number[] };
  };
  routes: {
    route: string;
    requests: number;
    match: number;
    mismatch: number;
    errors: number;
    statusMismatches: number;
  }[];
  fields: { field: string; count: number; routes: Record<string, number> }[];
  malformed: { count: number; lines: { file: string; line: number; error: string }[] };
  samples: {
    route: string;
    fields: string[];
    differences: { path: string; primary?: unknown; candidate?: unknown }[];
  }[];
  errors: { baseline: Record<string, number>; candidate: Record<string, number>; samples: unknown[] };
}

const pair = () => ['--baseline', baseline.url, '--candidate', candidate.url];
const readReport = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Report;
const fieldsOf = (report: Report) => report.fields.map((f) => f.field).sort();

describe('canary-kit replay: two servers', () => {
  it('names exactly the planted fields, counts every route and gates on --fail-under', async () => {
    const json = join(rec.dir, 'report.json');
    const result = await runCli(['replay', rec.v1, rec.hex, ...pair(), '--json', json, '--fail-under', '60']);
    expect(result.stderr).not.toMatch(/unexpected error/);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = readReport(json);

    expect(fieldsOf(report)).toEqual(['$.price', 'status']);
    expect(report.fields.find((f) => f.field === '$.price')).toMatchObject({
      count: 11,
      routes: { 'GET /items/:id': 11 },
    });
    expect(report.fields.find((f) => f.field === 'status')).toMatchObject({
      count: 5,
      routes: { 'GET /orders/:id': 5 },
    });

    expect(report.totals).toMatchObject({
      records: EXPECTED.records,
      replayed: EXPECTED.replayed,
      match: EXPECTED.match,
      mismatch: EXPECTED.mismatch,
      skipped: 0,
      errors: 0,
      statusMismatches: EXPECTED.statusMismatches,
      malformed: EXPECTED.malformed,
      notReplayed: { 'method not in --methods': EXPECTED.filtered },
    });
    expect(report.matchRate).toBeCloseTo(EXPECTED.matchRate, 10);
    expect(report.gate).toEqual({ failUnder: 60, passed: true });

    const routes = Object.fromEntries(report.routes.map((r) => [r.route, r]));
    expect(Object.keys(routes).sort()).toEqual([
      'GET /health',
      'GET /items/:id',
      'GET /orders/:id',
      'GET /users/:id',
    ]);
    expect(routes['GET /items/:id']).toMatchObject({
      requests: 11,
      match: 0,
      mismatch: 11,
      statusMismatches: 0,
    });
    expect(routes['GET /users/:id']).toMatchObject({ requests: 21, match: 21, mismatch: 0 });
    expect(routes['GET /orders/:id']).toMatchObject({ requests: 5, mismatch: 5, statusMismatches: 5 });
    expect(routes['GET /health']).toMatchObject({ requests: 5, match: 5 });

    // Both sides' latency: every replayed request measured, quantiles ordered, a ratio for each.
    for (const side of [report.latency.baseline, report.latency.candidate]) {
      expect(side.count).toBe(EXPECTED.replayed);
      expect(side.p50).toBeGreaterThan(0);
      expect(side.p95!).toBeGreaterThanOrEqual(side.p50!);
      expect(side.p99!).toBeGreaterThanOrEqual(side.p95!);
    }
    expect(report.latency.ratio.p50).toBeGreaterThan(0);
    const h = report.latency.histogram;
    expect(h.baseline.reduce((a, b) => a + b, 0)).toBe(EXPECTED.replayed);
    expect(h.candidate.reduce((a, b) => a + b, 0)).toBe(EXPECTED.replayed);
    expect(h.edgesMs.length).toBe(h.baseline.length + 1);

    // The sample diffs show the planted values.
    const price = report.samples.find((s) => s.route === 'GET /items/:id')!;
    expect(price.differences[0]).toMatchObject({ path: '$.price' });
    expect(Number(price.differences[0]!.candidate) - Number(price.differences[0]!.primary)).toBe(0.5);

    // Every replayed request reached both servers, marked as a replay.
    expect(baseline.stats.requests).toBe(EXPECTED.replayed);
    expect(candidate.stats.requests).toBe(EXPECTED.replayed);
    expect(new Set(baseline.stats.replayHeaders)).toEqual(new Set(['baseline']));
    expect(new Set(candidate.stats.replayHeaders)).toEqual(new Set(['candidate']));
  });

  it('reports malformed lines with file and line number, in the summary and the JSON report', async () => {
    const json = join(rec.dir, 'malformed.json');
    const result = await runCli(['replay', rec.v1, rec.hex, ...pair(), '--json', json, '--fail-under', '0']);
    expect(result.code).toBe(0);
    const report = readReport(json);
    expect(report.malformed.count).toBe(rec.malformed.length);
    expect(report.malformed.lines.map((m) => `${m.file}:${m.line}`)).toEqual(
      rec.malformed.map((m) => `${m.file}:${m.line}`),
    );
    for (const [i, m] of rec.malformed.entries()) {
      expect(report.malformed.lines[i]!.error).toContain(m.says);
      expect(result.stdout).toContain(`${m.file}:${m.line}: `);
    }
    expect(result.stdout).toContain(`malformed lines skipped (${EXPECTED.malformed})`);
  });

  it('prints the summary: totals, match rate, status mismatches, routes, latency, fields', async () => {
    const result = await runCli(['replay', rec.v1, rec.hex, ...pair(), '--fail-under', '61.9']);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/replayed\s+42: 26 match, 16 mismatch, 0 skipped, 0 errors/);
    expect(out).toMatch(new RegExp(`match rate\\s+${EXPECTED.matchRateText}`));
    expect(out).toMatch(/status mismatches\s+5/);
    expect(out).toMatch(/GET \/items\/:id\s+11\s+0\.00\s+11\s+0\s+0/);
    expect(out).toMatch(/GET \/orders\/:id\s+5\s+0\.00\s+5\s+5\s+0/);
    expect(out).toMatch(/^\s+baseline\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+42$/m);
    expect(out).toMatch(/^\s+candidate\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+42$/m);
    expect(out).toMatch(/^\s+ratio\s+[\d.]+×\s+[\d.]+×\s+[\d.]+×$/m);
    expect(out).toMatch(/^\s+\$\.price\s+11\s/m);
    expect(out).toMatch(/PASS: match rate 61\.90 % ≥ --fail-under 61\.9 %/);
    // Not a terminal: plain progress lines on stderr, ending with the final count.
    expect(result.stderr).toMatch(/replay: \d+ done \(26 match, 16 mismatch, 0 skipped, 0 errors\)/);
    expect(result.stderr).not.toContain('\r');
  });

  it('exits 1 below --fail-under, and by default (100 %) on any difference', async () => {
    const below = await runCli(['replay', rec.v1, rec.hex, ...pair(), '--fail-under', '62', '--quiet']);
    expect(below.code).toBe(1);
    expect(below.stdout).toContain('FAIL: match rate 61.90 % < --fail-under 62 %');
    expect(below.stderr).toBe('');
    const strict = await runCli(['replay', rec.v1, ...pair(), '--quiet']);
    expect(strict.code).toBe(1);
  });

  it('--json - writes the report to stdout and the summary to stderr', async () => {
    const result = await runCli(['replay', rec.v1, rec.hex, ...pair(), '--json', '-', '--quiet']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(fieldsOf(report)).toEqual(['$.price', 'status']);
    expect(result.stderr).toContain('FAIL: match rate 61.90 %');
  });

  it('--ignore and --tolerance map to the differ: only the status difference is left', async () => {
    for (const extra of [
      ['--ignore', '$.price'],
      ['--tolerance', '0.5'],
      ['--tolerance', '5%'],
    ]) {
      const json = join(rec.dir, 'ignore.json');
      const result = await runCli(['replay', rec.v1, rec.hex, ...pair(), ...extra, '--json', json, '-q']);
      expect(result.code, extra.join(' ')).toBe(1);
      const report = readReport(json);
      expect(fieldsOf(report), extra.join(' ')).toEqual(['status']);
      expect(report.totals.mismatch).toBe(5);
    }
    const json = join(rec.dir, 'tight.json');
    await runCli(['replay', rec.v1, ...pair(), '--tolerance', '0.4', '--json', json, '-q']);
    expect(fieldsOf(readReport(json))).toEqual(['$.price', 'status']);
  });

  it('--ignore-order compares arrays as multisets', async () => {
    const file = join(rec.dir, 'lists.jsonl');
    writeFileSync(file, `${[1, 2, 3].map((i) => v1Line('GET', `/lists/${i}`)).join('\n')}\n`);
    const json = join(rec.dir, 'lists.json');
    const ordered = await runCli(['replay', file, ...pair(), '--json', json, '-q']);
    expect(ordered.code).toBe(1);
    expect(fieldsOf(readReport(json))).toEqual(['$.items[*]']);
    const unordered = await runCli(['replay', file, ...pair(), '--ignore-order', '--json', json, '-q']);
    expect(unordered.code).toBe(0);
    expect(readReport(json)).toMatchObject({ matchRate: 100, totals: { match: 3, mismatch: 0 } });
  });

  it('--methods decides which records are replayed; request bodies (base64 and hex) arrive intact', async () => {
    const json = join(rec.dir, 'methods.json');
    const result = await runCli([
      'replay',
      rec.v1,
      rec.hex,
      ...pair(),
      '--methods',
      'GET,POST',
      '--json',
      json,
      '-q',
    ]);
    expect(result.code).toBe(1);
    const report = readReport(json);
    expect(report.totals.replayed).toBe(EXPECTED.replayed + 3);
    expect(report.totals.notReplayed).toEqual({});
    expect(report.routes.find((r) => r.route === 'POST /search')).toMatchObject({ requests: 3, match: 3 });
    expect(baseline.stats.bodies.sort()).toEqual([...rec.searchBodies].sort());
    expect(candidate.stats.bodies.sort()).toEqual([...rec.searchBodies].sort());

    const onlyPost = await runCli([
      'replay',
      rec.v1,
      rec.hex,
      ...pair(),
      '--methods',
      'post',
      '--json',
      json,
      '-q',
    ]);
    expect(onlyPost.code).toBe(0);
    expect(readReport(json).totals).toMatchObject({ replayed: 3, match: 3 });
  });

  it('counts a side that does not answer as an error against the match rate', async () => {
    const dead = await startServer('candidate');
    const deadUrl = dead.url;
    await dead.close();
    const json = join(rec.dir, 'dead.json');
    const result = await runCli([
      'replay',
      rec.v1,
      '--baseline',
      baseline.url,
      '--candidate',
      deadUrl,
      '--json',
      json,
      '--timeout',
      '2s',
      '-q',
    ]);
    expect(result.code).toBe(1);
    const report = readReport(json);
    expect(report.totals.errors).toBe(40);
    expect(report.totals.match).toBe(0);
    expect(report.matchRate).toBe(0);
    expect(report.errors.candidate).toEqual({ connect: 40 });
    expect(report.errors.baseline).toEqual({});
    expect(result.stdout).toContain('requests without an answer (40)');
  });
});

describe('canary-kit replay --target: one server against the recorded responses', () => {
  it('finds the planted fields on the candidate; hex records (no response) are not replayed', async () => {
    const json = join(rec.dir, 'target.json');
    const result = await runCli(['replay', rec.v1, rec.hex, '--target', candidate.url, '--json', json, '-q']);
    expect(result.code).toBe(1);
    const report = readReport(json);
    expect(report.mode).toBe('target');
    expect(fieldsOf(report)).toEqual(['$.price', 'status']);
    expect(report.totals).toMatchObject({
      replayed: 40,
      match: 25,
      mismatch: 15,
      notReplayed: { 'method not in --methods': 3, 'no recorded response (needed by --target)': 2 },
    });
    expect(baseline.stats.requests).toBe(0);
    expect(candidate.stats.requests).toBe(40);
    // The recorded side's latency is the recording's duration_ms.
    expect(report.latency.baseline.count).toBe(40);
    expect(report.latency.baseline.p50).toBeGreaterThanOrEqual(1);
    expect(result.stdout).toContain('vs the recorded responses');
  });

  it('passes against the version that was recorded', async () => {
    const result = await runCli(['replay', rec.v1, '--target', baseline.url, '-q']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/match rate\s+100\.00 %/);
    expect(result.stdout).toContain('PASS');
  });
});

describe('canary-kit replay: pace', () => {
  it('--concurrency caps the requests in flight on each server', async () => {
    const file = writeUsers(rec.dir, 'users30.jsonl', 30);
    baseline.delayMs = 40;
    candidate.delayMs = 40;
    const result = await runCli(['replay', file, ...pair(), '--concurrency', '3', '-q']);
    expect(result.code).toBe(0);
    expect(baseline.stats.requests).toBe(30);
    expect(baseline.stats.maxInFlight).toBe(3);
    expect(candidate.stats.maxInFlight).toBe(3);
  });

  it('--rate spaces the requests: with room for 8 in flight, the servers never see two at once', async () => {
    const file = writeUsers(rec.dir, 'users6.jsonl', 6);
    baseline.delayMs = 5;
    candidate.delayMs = 5;
    const result = await runCli(['replay', file, ...pair(), '--rate', '10', '--concurrency', '8', '-q']);
    expect(result.code).toBe(0);
    expect(baseline.stats.requests).toBe(6);
    expect(baseline.stats.maxInFlight).toBe(1);
    expect(candidate.stats.maxInFlight).toBe(1);
  });

  it('--speed follows the recorded timing and replays every record', async () => {
    const file = writeUsers(rec.dir, 'timed.jsonl', 5, 200);
    const result = await runCli(['replay', file, ...pair(), '--speed', '20', '-q']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/replayed\s+5: 5 match/);
    expect(baseline.stats.requests).toBe(5);
  });
});

describe('canary-kit replay: Ctrl-C', () => {
  it('stops reading, finishes the requests in flight and reports them; the gate fails', async () => {
    const file = writeUsers(rec.dir, 'users500.jsonl', 500);
    const json = join(rec.dir, 'interrupted.json');
    baseline.delayMs = 20;
    candidate.delayMs = 20;
    const child = spawnCli(['replay', file, ...pair(), '--concurrency', '2', '--json', json, '-q']);
    let exited = false;
    void child.done.then(() => {
      exited = true;
    });
    while (baseline.stats.requests < 4 && !exited) await new Promise((resolve) => setTimeout(resolve, 5));
    const endedEarly = exited;
    child.process.kill('SIGINT');
    const result = await child.done;
    expect(endedEarly, `the replay ended before it was interrupted:\n${result.stdout}${result.stderr}`).toBe(
      false,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('interrupted; finishing the requests in flight');
    const report = readReport(json) as Report & { interrupted: boolean };
    expect(report.interrupted).toBe(true);
    expect(report.gate.passed).toBe(false);
    expect(report.totals.replayed).toBeGreaterThanOrEqual(4);
    expect(report.totals.replayed).toBeLessThan(500);
    expect(report.totals.match).toBe(report.totals.replayed);
    expect(baseline.stats.requests).toBe(report.totals.replayed);
    expect(result.stdout).toContain('FAIL: interrupted before the end of the recording');
  });
});

describe('canary-kit replay: usage and I/O errors exit 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['no files', () => ['replay', ...pair()], /no recording files/],
    ['a missing file', () => ['replay', join(rec.dir, 'nope.jsonl'), ...pair()], /nope\.jsonl: no such file/],
    ['a directory', () => ['replay', rec.dir, ...pair()], /not a file/],
    ['no targets', () => ['replay', rec.v1], /--baseline URL and --candidate URL, or --target URL/],
    ['a baseline alone', () => ['replay', rec.v1, '--baseline', baseline.url], /--candidate/],
    [
      '--target with --baseline',
      () => ['replay', rec.v1, '--target', baseline.url, '--baseline', baseline.url],
      /--target replaces/,
    ],
    [
      'an invalid ignore path',
      () => ['replay', rec.v1, ...pair(), '--ignore', '$.ok', '--ignore', '$['],
      /ignore\[1\]: /,
    ],
    ['a bad tolerance', () => ['replay', rec.v1, ...pair(), '--tolerance', 'lots'], /--tolerance/],
    [
      '--concurrency 0',
      () => ['replay', rec.v1, ...pair(), '--concurrency', '0'],
      /--concurrency: must be an integer/,
    ],
    ['a bad --fail-under', () => ['replay', rec.v1, ...pair(), '--fail-under', '101'], /--fail-under/],
    ['a bad URL', () => ['replay', rec.v1, '--target', 'ftp://x'], /only http and https/],
    ['an unknown option', () => ['replay', rec.v1, ...pair(), '--bogus'], /bogus/],
    ['a bad --methods', () => ['replay', rec.v1, ...pair(), '--methods', 'GET;POST'], /--methods/],
    [
      'an unwritable report',
      () => ['replay', rec.v1, ...pair(), '--json', join(rec.dir, 'missing-dir', 'r.json'), '-q'],
      /cannot write the JSON report/,
    ],
    ['an unknown command', () => ['replya'], /unknown command "replya"/],
    ['no command', () => [], /Usage: canary-kit <command>/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const result = await runCli(args());
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('the differ’s own message names the bad ignore path', async () => {
    const result = await runCli(['replay', rec.v1, ...pair(), '--ignore', '$[']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid canary-kit config (1 issue)');
    expect(result.stderr).toContain('ignore[0]: ');
    expect(baseline.stats.requests).toBe(0);
  });

  it('replay --help prints the options and exits 0', async () => {
    const result = await runCli(['replay', '--help']);
    expect(result.code).toBe(0);
    for (const option of [
      '--concurrency',
      '--rate',
      '--speed',
      '--timeout',
      '--methods',
      '--ignore-order',
      '--fail-under',
    ])
      expect(result.stdout).toContain(option);
  });
});
