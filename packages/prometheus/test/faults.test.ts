import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PrometheusSource, queryNumber } from '@canary-kit/prometheus';
import { afterEach, describe, expect, it } from 'vitest';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real HTTP server on 127.0.0.1 standing in for a Prometheus that misbehaves in one way. */
async function fakePrometheus(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const vector = (value: string) =>
  JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: [{ metric: {}, value: [1, value] }] },
  });

const TIMEOUT = 300;
const source = (url: string, extra: object = {}) =>
  new PrometheusSource({ url, timeoutMs: TIMEOUT, scrapeIntervalMs: 1000, ...extra });

describe('a Prometheus that fails: the snapshot rejects with a clear Error, within the timeout', () => {
  it('refused connection (nothing listening)', async () => {
    const url = await fakePrometheus(() => {});
    await closers.pop()?.(); // closed: the port now refuses
    await expect(source(url).snapshot('f', Date.now() - 60_000)).rejects.toThrow(
      new RegExp(`Prometheus at ${url} unreachable \\(ECONNREFUSED\\) for query sum\\(increase`),
    );
  });

  it('hung: accepts and never answers', async () => {
    const url = await fakePrometheus(() => {});
    const s = source(url);
    await expect(s.snapshot('f', Date.now() - 60_000)).rejects.toThrow(
      `Prometheus at ${url} did not answer within ${TIMEOUT} ms`,
    );
    expect(s.stats).toEqual({ snapshots: 0, failures: 1, rejected: 0 });
  }, 10_000);

  it('hung mid-body: headers and half a JSON document, then nothing', async () => {
    const url = await fakePrometheus((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"succ');
    });
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(`did not answer within ${TIMEOUT} ms`);
  }, 10_000);

  it('reset: the connection is destroyed on every request', async () => {
    const url = await fakePrometheus((req) => req.socket.destroy());
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(
      /unreachable \((ECONNRESET|UND_ERR_SOCKET|other side closed)/,
    );
  });

  it('garbage: an HTML page with status 200', async () => {
    const url = await fakePrometheus((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(
      /answered HTTP 200 with a body that is not JSON \("<html><body>Welcome to nginx!/,
    );
  });

  it('JSON that is not a Prometheus answer', async () => {
    const url = await fakePrometheus((_req, res) => res.end('[1,2,3]'));
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(/answered without a status field/);
  });

  it('a body past 1 MB is abandoned', async () => {
    const url = await fakePrometheus((_req, res) => res.end(Buffer.alloc(2 << 20, 0x20)));
    // A generous deadline: ten 2 MB bodies take a while on a busy machine, and the size is what is tested.
    await expect(source(url, { timeoutMs: 30_000 }).snapshot('f', 0)).rejects.toThrow(
      /body over 1048576 bytes; is the url a Prometheus API/,
    );
  });

  it('an HTTP error without a JSON body (a proxy in front, Prometheus down)', async () => {
    const url = await fakePrometheus((_req, res) => {
      res.statusCode = 503;
      res.end('Service Unavailable');
    });
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(
      /answered HTTP 503 with a body that is not JSON \("Service Unavailable"\)/,
    );
  });

  it('status "error" bodies, with and without an HTTP error', async () => {
    const body = JSON.stringify({
      status: 'error',
      errorType: 'timeout',
      error: 'query timed out in expression evaluation',
    });
    const url = await fakePrometheus((_req, res) => {
      res.statusCode = 503;
      res.end(body);
    });
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(
      /answered HTTP 503 \(timeout: query timed out in expression evaluation\) for query/,
    );
    const ok = await fakePrometheus((_req, res) => res.end(body));
    await expect(source(ok).snapshot('f', 0)).rejects.toThrow(/answered HTTP 200 \(timeout: query timed out/);
  });

  it('a matrix where one number belongs', async () => {
    const url = await fakePrometheus((_req, res) =>
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } })),
    );
    await expect(source(url).snapshot('f', 0)).rejects.toThrow(
      /returned a matrix result .* instant vector or a scalar/,
    );
  });

  it('one failing query fails the snapshot at once and abandons the others', async () => {
    let pending = 0;
    const url = await fakePrometheus((req, res) => {
      if (new URL(req.url ?? '/', 'http://x').searchParams.get('query')?.includes('5..')) {
        res.statusCode = 500;
        res.end('boom');
      } else {
        pending++;
        res.on('close', () => pending--);
      }
    });
    const s = new PrometheusSource({ url, timeoutMs: 60_000 });
    await expect(s.snapshot('f', 0)).rejects.toThrow(/answered HTTP 500/);
    // The hung queries were aborted with it, not left waiting out the 60 s deadline.
    await expect.poll(() => pending, { timeout: 10_000 }).toBe(0);
  });
});

describe('what is sent', () => {
  it('instant queries at one evaluation time, the range since the step in whole seconds (at least two scrapes), the headers', async () => {
    const seen: { query: string; time: string; timeout: string; auth: string | undefined }[] = [];
    const url = await fakePrometheus((req, res) => {
      const params = new URL(req.url ?? '/', 'http://x').searchParams;
      seen.push({
        query: params.get('query') ?? '',
        time: params.get('time') ?? '',
        timeout: params.get('timeout') ?? '',
        auth: req.headers.authorization,
      });
      const q = params.get('query') ?? '';
      res.end(vector(q.includes('histogram_quantile') ? 'NaN' : q.includes('5..') ? '2' : '41.5'));
    });
    const now = 1_700_000_000_123;
    const s = new PrometheusSource({
      url: `${url}/`,
      headers: { authorization: 'Bearer t0ken' },
      scrapeIntervalMs: 15_000,
      timeoutMs: 4000,
      now: () => now,
    });
    const snap = await s.snapshot('f', now - 42_300);
    expect(seen).toHaveLength(10); // 5 queries × 2 versions
    expect(new Set(seen.map((q) => q.time))).toEqual(new Set(['1700000000.123']));
    expect(new Set(seen.map((q) => q.timeout))).toEqual(new Set(['4000ms']));
    expect(new Set(seen.map((q) => q.auth))).toEqual(new Set(['Bearer t0ken']));
    expect(seen.every((q) => q.query.includes('[43s]'))).toBe(true);
    expect(snap).toEqual({
      flag: 'f',
      from: now - 43_000,
      to: now,
      // NaN quantiles (no data) are left out, not passed on as numbers
      stable: { requests: 41.5, errors: 2 },
      canary: { requests: 41.5, errors: 2 },
    });

    seen.length = 0;
    const early = await s.snapshot('f', now - 500);
    expect(seen.every((q) => q.query.includes('[30s]'))).toBe(true); // 2 × 15 s scrape interval
    expect(early.from).toBe(now - 30_000);
  });
});

describe('bounded: one snapshot per flag, maxConcurrentSnapshots in all', () => {
  it('refuses a second snapshot of a flag while one runs, and snapshots past the limit; counts them', async () => {
    const held: ServerResponse[] = [];
    let holding = true;
    const url = await fakePrometheus((_req, res) => {
      if (holding) held.push(res);
      else res.end(vector('1'));
    });
    const s = new PrometheusSource({ url, maxConcurrentSnapshots: 2, timeoutMs: 30_000 });
    const a = s.snapshot('a', 0);
    const b = s.snapshot('b', 0);
    await expect(s.snapshot('a', 0)).rejects.toThrow(
      'a snapshot of "a" is still running; not starting another',
    );
    await expect(s.snapshot('c', 0)).rejects.toThrow(/2 snapshots running \(maxConcurrentSnapshots\)/);
    expect(s.stats).toEqual({ snapshots: 0, failures: 0, rejected: 2 });
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(20);
    holding = false;
    for (const res of held) res.end(vector('1'));
    await expect(a).resolves.toMatchObject({ flag: 'a' });
    await expect(b).resolves.toMatchObject({ flag: 'b' });
    await expect(s.snapshot('a', 0)).resolves.toMatchObject({ stable: { requests: 1 } });
    expect(s.stats).toEqual({ snapshots: 3, failures: 0, rejected: 2 });
  });
});

describe('a fetch of the user’s that ignores its AbortSignal', () => {
  it('still cannot hang a snapshot: it rejects at the deadline and frees the flag', async () => {
    let calls = 0;
    const never = (() => {
      calls++;
      return new Promise<Response>(() => {});
    }) as typeof fetch;
    const s = new PrometheusSource({ url: 'http://prometheus.invalid', fetch: never, timeoutMs: TIMEOUT });
    await expect(s.snapshot('f', 0)).rejects.toThrow(`did not answer within ${TIMEOUT} ms (flag f)`);
    expect(calls).toBe(10);
    await expect(s.snapshot('f', 0)).rejects.toThrow(`did not answer within ${TIMEOUT} ms`);
    expect(s.stats).toEqual({ snapshots: 0, failures: 2, rejected: 0 });
  }, 10_000);
});

describe('samples', () => {
  it('NaN and ±Inf are numbers; anything else in the value slot is a malformed sample', async () => {
    let value = 'NaN';
    const url = await fakePrometheus((_req, res) => res.end(vector(value)));
    const one = (query: string) =>
      queryNumber({
        base: url,
        query,
        timeMs: Date.now(),
        signal: AbortSignal.timeout(10_000),
        timeoutMs: 10_000,
        headers: {},
        fetch,
        maxBodyBytes: 1 << 20,
      });
    expect(await one('q')).toBeNaN();
    value = '+Inf';
    expect(await one('q')).toBe(Number.POSITIVE_INFINITY);
    value = '-Inf';
    expect(await one('q')).toBe(Number.NEGATIVE_INFINITY);
    value = '1.5e3';
    expect(await one('q')).toBe(1500);
    for (value of ['', 'abc', ' ']) {
      await expect(one('q')).rejects.toThrow(
        `returned a sample that is not a number (${JSON.stringify(value)}) for query q`,
      );
    }
  });
});
