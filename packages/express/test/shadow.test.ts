import { request as httpRequest } from 'node:http';
import type { Canary, MismatchEvent, ShadowConfig } from '@canary-kit/core';
import {
  BODY_PARSER_ORDER,
  bindFlag,
  canaryMiddleware,
  canaryRoute,
  metricsHandler,
  shadowRoute,
} from '@canary-kit/express';
import type { Express, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import {
  garbageServer,
  hungServer,
  payload,
  type Received,
  refusedUrl,
  resettingServer,
  send,
  serve,
  sha256,
  slowServer,
  until,
  writeLarge,
} from '../../../test/helpers/servers.js';
import { closeAfterEach, EXPRESS_MAJORS, itRunsAgainst, scrape, value } from './helpers.js';

const { canaryFor, start, target: track } = closeAfterEach();

/** Shadow outcome counts of one target. */
const counts = (canary: Canary, target: string) => canary.stats().shadow[target]!;
const settled = (canary: Canary, target: string) => {
  const c = counts(canary, target);
  return c.match + c.mismatch + c.error + c.timeout + c.dropped + c.skipped;
};

/** An echo target: answers what the primary's /raw and /stream routes answer, computed from what it got. */
function checksumAnswer(req: Received, res: import('node:http').ServerResponse): void {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ sha: sha256(req.body), length: req.body.length }));
}

describe.each(EXPRESS_MAJORS)('%s', (name, express, module) => {
  itRunsAgainst(name, module);

  /** Hashes the body as the handler got it: parsed by express.raw, or read from the stream. */
  function integrityApp(canary: Canary, warn?: (message: string, code: string) => void): Express {
    const app = express();
    app.use(canaryMiddleware(canary, warn ? { warn } : {}));
    const writes = shadowRoute(true, { writes: true });
    app.post(
      '/raw',
      writes,
      express.raw({ type: () => true, limit: '20mb' }),
      (req: Request, res: Response) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        res.json({ sha: sha256(body), length: body.length });
      },
    );
    app.post('/stream', writes, async (req: Request, res: Response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      res.json({ sha: sha256(body), length: body.length });
    });
    app.get('/metrics', metricsHandler(canary));
    return app;
  }

  describe('request body capture', () => {
    it('0 B, 1 KiB, 1 MiB, 10 MiB and chunked uploads reach the handler and the target byte-identical; over the limit is skipped', async () => {
      const target = await track(serve(checksumAnswer));
      const canary = canaryFor({
        shadow: { name: 'echo', target: target.url, methods: ['POST'], circuitBreaker: false },
      });
      const base = await start(integrityApp(canary));

      const sizes = [0, 1024, 1024 * 1024, 10 * 1024 * 1024];
      for (const size of sizes) {
        const bytes = payload(size, size + 1);
        const response = await fetch(`${base}/raw`, {
          method: 'POST',
          body: bytes,
          headers: { 'content-type': 'application/octet-stream' },
        });
        expect(response.status).toBe(200);
        expect(await response.json(), `${size} B`).toEqual({ sha: sha256(bytes), length: size });
      }
      // Chunked (no Content-Length), read by the handler straight from the stream; odd chunk sizes.
      const chunks = Array.from({ length: 37 }, (_, i) => payload(1000 + i * 211, i + 3));
      const whole = Buffer.concat(chunks);
      const chunked = await send(`${base}/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: chunks,
      });
      expect(chunked.status).toBe(200);
      expect(JSON.parse(chunked.body.toString())).toEqual({ sha: sha256(whole), length: whole.length });

      await until(() => settled(canary, 'echo') === 5, 'five shadow outcomes');
      expect(counts(canary, 'echo')).toMatchObject({
        match: 4,
        skipped: 1,
        mismatch: 0,
        error: 0,
        dropped: 0,
      });
      // The target got exactly the client's bytes (never a re-serialization), 10 MiB excepted.
      const got = target.received.map((r) => [r.url, sha256(r.body), r.body.length]);
      expect(got).toEqual([
        ['/raw', sha256(payload(0, 1)), 0],
        ['/raw', sha256(payload(1024, 1025)), 1024],
        ['/raw', sha256(payload(1024 * 1024, 1024 * 1024 + 1)), 1024 * 1024],
        ['/stream', sha256(whole), whole.length],
      ]);
      const samples = await scrape(base);
      expect(value(samples, 'canary_kit_shadow_requests_total', { target: 'echo', outcome: 'skipped' })).toBe(
        1,
      );
      expect(value(samples, 'canary_kit_shadow_requests_total', { target: 'echo', outcome: 'match' })).toBe(
        4,
      );
    });

    it('mounted after a body parser: warns once, the app still gets its body, body copies are skipped', async () => {
      const target = await track(serve(checksumAnswer));
      const canary = canaryFor({
        shadow: { name: 'echo', target: target.url, methods: ['GET', 'POST'], circuitBreaker: false },
      });
      const warnings: [string, string][] = [];
      const app = express();
      app.use(express.json());
      app.use(canaryMiddleware(canary, { warn: (message, code) => warnings.push([message, code]) }));
      app.post('/orders', shadowRoute(true, { writes: true }), (req: Request, res: Response) => {
        res.json({ got: req.body });
      });
      app.get('/items', (_req, res) => {
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify({ sha: sha256(Buffer.alloc(0)), length: 0 }));
      });
      const base = await start(app);

      for (let i = 0; i < 2; i++) {
        const response = await fetch(`${base}/orders`, {
          method: 'POST',
          body: JSON.stringify({ n: i }),
          headers: { 'content-type': 'application/json' },
        });
        expect(await response.json()).toEqual({ got: { n: i } });
      }
      expect(await (await fetch(`${base}/items`)).json()).toEqual({
        sha: sha256(Buffer.alloc(0)),
        length: 0,
      });
      await until(() => settled(canary, 'echo') === 3, 'three shadow outcomes');
      // No body copy went out re-serialized: both POSTs skipped; the GET (no body) was mirrored.
      expect(counts(canary, 'echo')).toMatchObject({ skipped: 2, match: 1 });
      expect(target.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /items']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![1]).toBe(BODY_PARSER_ORDER);
      expect(warnings[0]![0]).toMatch(/before express\.json\(\)/);
    });

    it('by default the warning is a process warning with code CANARY_KIT_BODY_PARSER_ORDER', async () => {
      const target = await track(serve(checksumAnswer));
      const canary = canaryFor({ shadow: { name: 'echo', target: target.url, methods: ['POST'] } });
      const app = express();
      app.use(express.text({ type: () => true }));
      app.use(canaryMiddleware(canary));
      app.post('/t', (req: Request, res: Response) => {
        res.send(String(req.body));
      });
      const base = await start(app);
      const warnings: (Error & { code?: string })[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      try {
        for (const text of ['a', 'b', 'c'])
          expect(await (await fetch(`${base}/t`, { method: 'POST', body: text })).text()).toBe(text);
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings.map((w) => [w.name, w.code])).toEqual([['CanaryKitWarning', BODY_PARSER_ORDER]]);
    });

    it('behind a middleware that let the body arrive first: warns, skips the copy, the handler reads it intact', async () => {
      const target = await track(serve(checksumAnswer));
      const canary = canaryFor({
        shadow: { name: 'echo', target: target.url, methods: ['POST'], circuitBreaker: false },
      });
      const warnings: string[] = [];
      const app = express();
      // An async middleware ahead of canaryMiddleware (a session lookup, say): the body is buffered meanwhile.
      app.use((req, _res, next) => {
        const wait = () => (req.complete ? next() : setImmediate(wait));
        wait();
      });
      const inner = integrityApp(canary, (_message, code) => warnings.push(code));
      app.use(inner);
      const base = await start(app);
      const bytes = payload(5000);
      const response = await fetch(`${base}/stream`, { method: 'POST', body: bytes });
      expect(await response.json()).toEqual({ sha: sha256(bytes), length: 5000 });
      await until(() => settled(canary, 'echo') === 1, 'the shadow outcome');
      expect(counts(canary, 'echo').skipped).toBe(1);
      expect(target.received).toEqual([]);
      expect(warnings).toEqual([BODY_PARSER_ORDER]);
    });
  });

  describe('response capture', () => {
    it('streams a response past the capture limit without holding it back', async () => {
      const half = 256 * 1024;
      const bytes = payload(2 * half, 99);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const target = await track(
        serve((_req, res) => {
          res.setHeader('content-type', 'application/octet-stream');
          res.end(bytes);
        }),
      );
      const canary = canaryFor({
        shadow: { name: 't', target: target.url, maxResponseBytes: 64 * 1024, circuitBreaker: false },
      });
      const app = express();
      app.use(canaryMiddleware(canary));
      app.get('/big', async (_req, res) => {
        res.setHeader('content-type', 'application/octet-stream');
        res.write(bytes.subarray(0, half));
        // The rest is written only once the client has received the first half: had anything buffered the
        // response, the client would never see it and this would never be released.
        await gate;
        res.end(bytes.subarray(half));
      });
      const base = await start(app);
      const received = await new Promise<Buffer>((resolve, reject) => {
        const parts: Buffer[] = [];
        let length = 0;
        const req = httpRequest(`${base}/big`, (res) => {
          res.on('data', (chunk: Buffer) => {
            parts.push(chunk);
            length += chunk.length;
            if (length >= half) release();
          });
          res.on('end', () => resolve(Buffer.concat(parts)));
        });
        req.on('error', reject);
        req.end();
      });
      expect(received.equals(bytes)).toBe(true);
      await until(() => settled(canary, 't') === 1, 'the shadow outcome');
      // The primary's copy was cut at 64 KiB: it cannot be compared, so the diff is skipped, not a mismatch.
      expect(counts(canary, 't').skipped).toBe(1);
    });
  });

  describe('route opt-in', () => {
    it('chooses targets by path, bound flag and route opt-in; writes only with `writes`; credentials stripped', async () => {
      const seen: { target: string; method: string; path: string; headers: Received['headers'] }[] = [];
      const server = await track(
        serve((req, res) => {
          const [, target, ...rest] = req.url.split('/');
          seen.push({
            target: target!,
            method: req.method,
            path: `/${rest.join('/')}`,
            headers: req.headers,
          });
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.end(
            JSON.stringify(`/${rest.join('/')}` === '/plain' ? { route: 'changed' } : { route: 'same' }),
          );
        }),
      );
      const methods = ['GET', 'POST'];
      const canary = canaryFor({
        flags: { checkout: { percentage: 100 } },
        shadow: [
          {
            name: 'all',
            target: `${server.url}/all`,
            methods,
            stripHeaders: ['x-secret'],
            circuitBreaker: false,
          },
          { name: 'byPath', target: `${server.url}/byPath`, methods, paths: ['/reports/**'] },
          { name: 'byFlag', target: `${server.url}/byFlag`, methods, flags: ['checkout'] },
          { name: 'named', target: `${server.url}/named`, methods, paths: ['/never'] },
        ],
      });
      const mismatches: MismatchEvent[] = [];
      canary.on('mismatch', (event) => mismatches.push(event));
      const app = express();
      app.use(canaryMiddleware(canary, { context: (req) => ({ userId: req.get('x-user-id') }) }));
      const same = (_req: Request, res: Response) => {
        res.json({ route: 'same' });
      };
      app.get('/plain', same);
      app.get('/reports/daily/:day', same);
      app.get('/checkout', canaryRoute('checkout', { canary: same, stable: same }));
      app.get('/bound', bindFlag('checkout'), same);
      app.get('/named', shadowRoute('named'), same);
      app.post('/write-no-opt-in', express.json(), same);
      app.post('/write-opt-in-no-writes', shadowRoute(), express.json(), same);
      app.post('/write', shadowRoute(true, { writes: true }), express.json(), same);
      app.post(
        '/checkout',
        express.json(),
        canaryRoute('checkout', {
          canary: same,
          stable: same,
          shadow: { targets: ['byFlag'], writes: true },
        }),
      );
      app.post('/bound-write', bindFlag('checkout', { shadow: { writes: true } }), express.json(), same);
      const base = await start(app);

      const headers = {
        authorization: 'Bearer secret',
        cookie: 'session=abc',
        'x-api-key': 'k',
        'x-secret': 's',
        'x-user-id': 'u1',
        'content-type': 'application/json',
      };
      const calls: [string, string][] = [
        ['GET', '/plain'],
        ['GET', '/reports/daily/monday'],
        ['GET', '/checkout'],
        ['GET', '/bound'],
        ['GET', '/named'],
        ['POST', '/write-no-opt-in'],
        ['POST', '/write-opt-in-no-writes'],
        ['POST', '/write'],
        ['POST', '/checkout'],
        ['POST', '/bound-write'],
      ];
      for (const [method, path] of calls) {
        const response = await fetch(`${base}${path}`, {
          method,
          headers,
          body: method === 'POST' ? '{"a":1}' : undefined,
        });
        expect(await response.json()).toEqual({ route: 'same' });
      }
      const expected = [
        'all GET /plain',
        'all GET /reports/daily/monday',
        'byPath GET /reports/daily/monday',
        'all GET /checkout',
        'byFlag GET /checkout',
        'all GET /bound',
        'byFlag GET /bound',
        'all GET /named',
        'named GET /named',
        'all POST /write',
        'byPath POST /write',
        'byFlag POST /write',
        'named POST /write',
        'all POST /checkout',
        'byFlag POST /checkout',
        'all POST /bound-write',
        'byFlag POST /bound-write',
        'byPath POST /bound-write',
        'named POST /bound-write',
      ];
      const total = () =>
        ['all', 'byPath', 'byFlag', 'named'].reduce(
          (sum, t) => sum + (canary.stats().shadow[t] ? settled(canary, t) : 0),
          0,
        );
      await until(() => total() === expected.length, 'every copy answered');
      expect(seen.map((s) => `${s.target} ${s.method} ${s.path}`).sort()).toEqual([...expected].sort());
      for (const s of seen) {
        expect(s.headers.authorization).toBeUndefined();
        expect(s.headers.cookie).toBeUndefined();
        expect(s.headers['x-api-key']).toBeUndefined();
        expect(s.headers['x-user-id']).toBe('u1');
        expect(s.headers['x-canary-kit-shadow']).toBe('1');
        if (s.target === 'all') expect(s.headers['x-secret']).toBeUndefined();
        else expect(s.headers['x-secret']).toBe('s');
      }
      const posted = seen.filter((s) => s.method === 'POST');
      expect(posted.every((s) => s.headers['content-type'] === 'application/json')).toBe(true);
      expect(counts(canary, 'all').mismatch).toBe(1);
      expect(mismatches).toEqual([
        expect.objectContaining({
          target: 'all',
          route: '/plain',
          differences: [{ path: '$.route', kind: 'changed', primary: 'same', candidate: 'changed' }],
        }),
      ]);
    });

    it('rejects a malformed opt-in at startup', () => {
      const h = () => {};
      expect(() => shadowRoute([] as never)).toThrow(/shadow targets/);
      expect(() => shadowRoute(true, { writes: 'yes' as never })).toThrow(/writes/);
      expect(() => canaryRoute('f', { canary: h, stable: h, shadow: 'all' as never })).toThrow(/shadow/);
      expect(() => bindFlag('f', { shadow: { targets: [''] } })).toThrow(/shadow targets/);
    });
  });

  describe('a misbehaving shadow target never touches the primary response', () => {
    const N = 6;

    /** GET /items/:id answered by the app, `N` times; every response checked. */
    async function primaryRun(targetUrl: string, extra: Partial<ShadowConfig> = {}) {
      const canary = canaryFor({
        shadow: {
          name: 't',
          target: targetUrl,
          timeoutMs: 3_000,
          circuitBreaker: false,
          ...extra,
        },
      });
      const app = express();
      app.use(canaryMiddleware(canary));
      app.get('/items/:id', (req, res) => {
        res.json({ id: req.params.id, ok: true });
      });
      const base = await start(app);
      for (let i = 0; i < N; i++) {
        const response = await fetch(`${base}/items/${i}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await response.json()).toEqual({ id: String(i), ok: true });
      }
      return canary;
    }

    it('hung: answered while copies hang; past maxInFlight copies are dropped, exactly', async () => {
      const hung = await track(hungServer());
      const canary = await primaryRun(hung.url, { maxInFlight: 2, timeoutMs: 60_000 });
      // Every primary above was answered while the target held its copies unanswered.
      await until(() => hung.arrived() === 2, 'the copies at the target');
      expect(hung.answered()).toBe(0);
      expect(canary.shadows[0]!.inFlight).toBe(2);
      expect(counts(canary, 't')).toMatchObject({ dropped: N - 2, match: 0, error: 0, timeout: 0 });
    });

    it('1 s slow: answered before the target answers; the copies complete later', async () => {
      const slow = await track(
        slowServer(1_000, (req, res) => {
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.end(JSON.stringify({ id: req.url.split('/').pop(), ok: true }));
        }),
      );
      const canary = await primaryRun(slow.url);
      expect(slow.answered()).toBe(0);
      await until(() => settled(canary, 't') === N, 'the slow copies');
      expect(counts(canary, 't').match).toBe(N);
    });

    it.each([
      ['resetting connections', async () => track(resettingServer())],
      ['refusing connections', async () => ({ url: await refusedUrl() })],
      ['answering garbage', async () => track(garbageServer())],
    ])('%s: every copy counted as an error', async (_name, make) => {
      const target = await make();
      const canary = await primaryRun(target.url);
      await until(() => settled(canary, 't') === N, 'every copy counted');
      expect(counts(canary, 't')).toMatchObject({ error: N, match: 0, dropped: 0 });
      expect(canary.shadows[0]!.inFlight).toBe(0);
    });

    it('answering 50 MB: read up to maxResponseBytes only, compared as skipped', async () => {
      const big = await track(serve((_req, res) => writeLarge(res, 50 * 1024 * 1024, 7, 'application/json')));
      const canary = await primaryRun(big.url);
      await until(() => settled(canary, 't') === N, 'every copy counted');
      expect(counts(canary, 't')).toMatchObject({ skipped: N, error: 0 });
    });
  });
});
