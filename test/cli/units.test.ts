import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareResponses, compileDiffOptions } from '@canary-kit/core';
import { describe, expect, it } from 'vitest';
import {
  type ProgressSnapshot,
  renderBar,
  renderLine,
  startProgress,
} from '../../packages/cli/src/progress.js';
import { parseLine, type RecordedRequest, readRecordings } from '../../packages/cli/src/read.js';
import { ReplayAggregate } from '../../packages/cli/src/replay/aggregate.js';
import { LatencyHistogram, logEdges } from '../../packages/cli/src/replay/histogram.js';
import { parseReplayArgs, type ReplayOptions } from '../../packages/cli/src/replay/options.js';
import { RouteCache, routeOf } from '../../packages/cli/src/replay/route.js';
import { Scheduler } from '../../packages/cli/src/replay/scheduler.js';
import { esc, renderHtml } from '../../packages/cli/src/report/html.js';
import { buildReport } from '../../packages/cli/src/report/json.js';
import { clean, percent } from '../../packages/cli/src/report/text.js';

describe('routeOf: ids collapse to :id', () => {
  it.each([
    ['GET', '/users/42', 'GET /users/:id'],
    ['GET', '/users/42/orders/7?page=2', 'GET /users/:id/orders/:id'],
    ['DELETE', '/orders/7C9E6679-7425-40DE-944B-E07FC1F90AE7', 'DELETE /orders/:id'],
    ['GET', '/v2/items/abc123', 'GET /v2/items/abc123'],
    ['GET', '/', 'GET /'],
    ['GET', '/?q=1', 'GET /'],
    ['GET', '/files/12.5', 'GET /files/12.5'],
    ['GET', '/a/#frag', 'GET /a/'],
  ])('%s %s → %s', (method, url, route) => {
    expect(routeOf(method, url)).toBe(route);
    expect(new RouteCache(1).of(method, url)).toBe(route);
  });
});

describe('LatencyHistogram', () => {
  it('gives quantiles within 1 % of the exact nearest-rank ones', () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = 0.2 + (seed / 2 ** 31) ** 3 * 800;
      values.push(v);
      h.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = values[Math.ceil(q * values.length) - 1]!;
      expect(Math.abs(h.quantile(q)! - exact) / exact).toBeLessThan(0.01);
    }
    expect(h.summary()).toMatchObject({ count: 20_000, min: values[0], max: values.at(-1) });
    const edges = logEdges([h], 30)!;
    expect(edges).toHaveLength(31);
    expect(h.bin(edges).reduce((a, b) => a + b, 0)).toBe(20_000);
  });

  it('is empty until it sees a value', () => {
    const h = new LatencyHistogram();
    expect(h.summary()).toEqual({
      count: 0,
      min: null,
      mean: null,
      p50: null,
      p95: null,
      p99: null,
      max: null,
    });
    expect(logEdges([h], 10)).toBeNull();
    h.add(5);
    expect(h.summary()).toMatchObject({ count: 1, min: 5, p50: 5, p99: 5, max: 5 });
  });
});

describe('Scheduler', () => {
  it('holds the next request until one in flight is released', async () => {
    const scheduler = new Scheduler({ concurrency: 2 });
    await scheduler.acquire(undefined);
    await scheduler.acquire(undefined);
    let third = false;
    const waiting = scheduler.acquire(undefined).then(() => {
      third = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(third).toBe(false);
    expect(scheduler.inFlight).toBe(2);
    scheduler.release();
    await waiting;
    expect(third).toBe(true);
    expect(scheduler.maxInFlight).toBe(2);
    scheduler.release();
    scheduler.release();
    await scheduler.drain();
    expect(scheduler.inFlight).toBe(0);
  });
});

describe('the recording reader', () => {
  it('reads a v1 line: base64 bodies, lower-cased headers, the recorded response', () => {
    const record = parseLine(
      JSON.stringify({
        v: 1,
        id: 'a1',
        ts: '2025-01-01T00:00:00.000Z',
        method: 'post',
        url: '/search?q=1',
        headers: { 'Content-Type': 'application/json', 'X-Multi': ['a', 'b'] },
        body: Buffer.from('{"q":1}').toString('base64'),
        body_truncated: false,
        version: 'canary',
        status: 201,
        response_headers: { 'content-type': 'application/json' },
        response_body: Buffer.from('{"ok":true}').toString('base64'),
        duration_ms: 12.5,
      }),
    ) as RecordedRequest;
    expect(record).toMatchObject({
      format: 'v1',
      id: 'a1',
      ts: Date.UTC(2025, 0, 1),
      method: 'POST',
      url: '/search?q=1',
      headers: { 'content-type': 'application/json', 'x-multi': ['a', 'b'] },
      bodyTruncated: false,
      version: 'canary',
      response: { status: 201, durationMs: 12.5, bodyTruncated: false },
    });
    expect(record.body?.toString()).toBe('{"q":1}');
    expect(record.response?.body?.toString()).toBe('{"ok":true}');
  });

  it('reads a hex line; a number timestamp is seconds or milliseconds', () => {
    const record = parseLine(
      JSON.stringify({ method: 'PUT', path: '/x', headers: {}, body_hex: '6869', timestamp: 1_735_689_600 }),
    ) as RecordedRequest;
    expect(record).toMatchObject({ format: 'hex', method: 'PUT', url: '/x', ts: 1_735_689_600_000 });
    expect(record.body?.toString()).toBe('hi');
    expect(record.response).toBeUndefined();
    const ms = parseLine(
      JSON.stringify({ method: 'GET', path: '/x', body_hex: '', timestamp: 1_735_689_600_123 }),
    );
    expect((ms as RecordedRequest).ts).toBe(1_735_689_600_123);
  });

  it('takes the path and query of an absolute URL', () => {
    expect((parseLine('{"v":1,"method":"GET","url":"http://shop/a/b?c=d"}') as RecordedRequest).url).toBe(
      '/a/b?c=d',
    );
  });

  it.each([
    ['{', 'malformed JSON'],
    ['null', 'not a JSON object'],
    ['{"foo":1}', 'neither a v1 record'],
    ['{"v":2,"method":"GET","url":"/"}', 'v: unsupported format version 2'],
    ['{"v":1,"url":"/"}', 'method'],
    ['{"v":1,"method":"G ET","url":"/"}', 'method'],
    ['{"v":1,"method":"GET","url":"items"}', 'url: must be a path'],
    ['{"v":1,"method":"GET","url":"/a b"}', 'url: contains spaces'],
    ['{"v":1,"method":"GET","url":"/","headers":"x"}', 'headers: must be an object'],
    ['{"v":1,"method":"GET","url":"/","headers":[1]}', 'headers[0]: must be a [name, value] pair'],
    ['{"v":1,"method":"GET","url":"/","headers":{"a":{}}}', 'headers.a'],
    ['{"v":1,"method":"GET","url":"/","body":"!!"}', 'body: must be base64'],
    ['{"v":1,"method":"GET","url":"/","body_truncated":"no"}', 'body_truncated'],
    ['{"v":1,"method":"GET","url":"/","status":"200"}', 'status'],
    ['{"v":1,"method":"GET","url":"/","status":200,"duration_ms":"slow"}', 'duration_ms'],
    ['{"v":1,"method":"GET","url":"/","ts":"yesterday"}', 'ts: must be'],
    ['{"method":"GET","path":"/","timestamp":"soon"}', 'timestamp: must be'],
    ['{"method":"GET","path":"/","body_hex":"zz"}', 'body_hex'],
    ['{"method":"GET","path":"/","body_hex":"","timestamp":true}', 'timestamp'],
  ])('rejects %s (%s)', (line, message) => {
    const result = parseLine(line);
    expect(typeof result).toBe('string');
    expect(result).toContain(message);
  });

  it('numbers lines from 1, skips blank lines, handles CRLF and goes on after a bad line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-read-'));
    const file = join(dir, 'r.jsonl');
    writeFileSync(
      file,
      ['{"v":1,"method":"GET","url":"/a"}', '', '{oops', '  ', '{"method":"GET","path":"/b"}'].join('\r\n'),
    );
    const entries: { line: number; ok: boolean; url?: string }[] = [];
    for await (const entry of readRecordings([file]))
      entries.push(
        'error' in entry
          ? { line: entry.line, ok: false }
          : { line: entry.line, ok: true, url: entry.record.url },
      );
    expect(entries).toEqual([
      { line: 1, ok: true, url: '/a' },
      { line: 3, ok: false },
      { line: 5, ok: true, url: '/b' },
    ]);
  });

  it('reports a file that cannot be read as an error on line 0', async () => {
    const entries = [];
    for await (const entry of readRecordings(['/nonexistent/recording.jsonl'])) entries.push(entry);
    expect(entries).toEqual([
      {
        line: 0,
        file: '/nonexistent/recording.jsonl',
        error: expect.stringMatching(/^cannot read: .*ENOENT/),
      },
    ]);
  });
});

describe('replay options', () => {
  const base = ['r.jsonl', '--baseline', 'http://a:1', '--candidate', 'http://b:2'];
  it('maps --ignore, --ignore-order and --tolerance onto the differ options', () => {
    const o = parseReplayArgs([
      ...base,
      '--ignore',
      '$.a',
      '--ignore',
      '$..b',
      '--ignore-order',
      '--tolerance',
      '2%',
    ]);
    expect(o).not.toBe('help');
    expect((o as ReplayOptions).diff).toEqual({
      ignore: ['$.a', '$..b'],
      arrayOrder: 'unordered',
      tolerance: { relative: 0.02 },
    });
    expect((parseReplayArgs([...base, '--tolerance', '0.5']) as ReplayOptions).diff).toEqual({
      tolerance: 0.5,
    });
  });

  it('has safe defaults: GET, HEAD and OPTIONS, 16 in flight, 10 s, gate at 100 %', () => {
    const o = parseReplayArgs(base) as ReplayOptions;
    expect([...o.methods!]).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(o).toMatchObject({ concurrency: 16, timeoutMs: 10_000, failUnder: 100, mode: 'pair' });
    expect((parseReplayArgs([...base, '--methods', 'all']) as ReplayOptions).methods).toBeUndefined();
    expect((parseReplayArgs([...base, '--timeout', '1.5s']) as ReplayOptions).timeoutMs).toBe(1500);
  });
});

describe('reports', () => {
  function report(aggregate: ReplayAggregate) {
    const options = parseReplayArgs([
      '<img src=x>.jsonl',
      '--baseline',
      'http://a:1',
      '--candidate',
      'http://b:2',
    ]) as ReplayOptions;
    const now = new Date();
    return buildReport(options, {
      aggregate,
      startedAt: now,
      finishedAt: now,
      maxInFlight: 1,
      interrupted: false,
    });
  }

  it('escapes every recorded value in the HTML', async () => {
    const a = new ReplayAggregate();
    const evil = '<script>alert(1)</script>';
    const route = a.route(`GET /${evil}`);
    route.requests++;
    a.replayed++;
    a.latency(route, 'baseline', 1);
    a.latency(route, 'candidate', 2);
    const diff = await compareResponses(
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(`{"${evil}":"${evil}"}`),
      },
      { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"${evil}":"x"}`) },
      compileDiffOptions({}),
    );
    const origin = { file: `${evil}.jsonl`, line: 1, method: 'GET', url: `/${evil}`, route: route.route };
    a.compared(origin, route, diff, 200, 200);
    a.failed(origin, route, [{ side: 'candidate', kind: 'reset', message: evil }]);
    a.addMalformed({ file: evil, line: 2, error: evil });
    const html = renderHtml(report(a));
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(esc(`"'&<>`)).toBe('&quot;&#39;&amp;&lt;&gt;');
  });

  it('counts a field once per request and keeps one sample per route and set of fields', async () => {
    const a = new ReplayAggregate();
    const route = a.route('GET /items/:id');
    const options = compileDiffOptions({});
    for (let i = 0; i < 3; i++) {
      const diff = await compareResponses(
        { status: 200, headers: {}, body: Buffer.from('{"items":[{"p":1},{"p":2}]}') },
        { status: 200, headers: {}, body: Buffer.from('{"items":[{"p":5},{"p":6}]}') },
        options,
      );
      a.compared(
        { file: 'f', line: i + 1, method: 'GET', url: '/items/1', route: route.route },
        route,
        diff,
        200,
        200,
      );
    }
    const r = report(a);
    expect(r.fields).toEqual([
      { field: '$.items[*].p', count: 3, rate: 100, routes: { 'GET /items/:id': 3 } },
    ]);
    expect(r.samples).toHaveLength(1);
    expect(r.samples[0]!.differences.map((d) => d.path)).toEqual(['$.items[0].p', '$.items[1].p']);
  });

  it('never rounds a match rate up to 100 %, and shows control characters instead of obeying them', () => {
    expect(percent(99.996)).toBe('99.99 %');
    expect(percent(100)).toBe('100.00 %');
    expect(percent(null)).toBe('n/a');
    expect(clean('a\u001b[2Jb\nc')).toBe('a\\u001b[2Jb\\u000ac');
  });
});

describe('progress', () => {
  const snapshot: ProgressSnapshot = { done: 50, total: 200, match: 40, mismatch: 8, skipped: 0, errors: 2 };

  it('draws a bar that fits the terminal, and plain lines', () => {
    const bar = renderBar(snapshot, 2, 100);
    expect(bar.length).toBeLessThan(100);
    expect(bar).toMatch(/^\[█+░+\]\s+25% 50\/200 ✓40 ✗8 !2 25\/s ETA 6s$/);
    expect(renderLine(snapshot, 2)).toBe(
      'replay: 50/200 done (40 match, 8 mismatch, 0 skipped, 2 errors), 25/s',
    );
  });

  it('writes a final line on stop; nothing when quiet', () => {
    const writes: string[] = [];
    startProgress('plain', { write: (t: string) => writes.push(t) }, () => snapshot).stop();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^replay: 50\/200 done/);
    const bar: string[] = [];
    startProgress('bar', { write: (t: string) => bar.push(t), columns: 80 }, () => snapshot).stop();
    expect(bar[0]).toMatch(/^\r\[/);
    expect(bar.at(-1)).toBe('\n');
    const none: string[] = [];
    startProgress('none', { write: (t: string) => none.push(t) }, () => snapshot).stop();
    expect(none).toEqual([]);
  });
});
