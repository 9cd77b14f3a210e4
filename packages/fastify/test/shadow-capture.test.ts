import { Readable } from 'node:stream';
import {
  type Canary,
  type CanaryConfig,
  createCanary,
  type MismatchEvent,
  type ShadowOutcome,
} from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  payload,
  type Received,
  send,
  serve,
  sha256,
  type TestServer,
  until,
  writeLarge,
} from '../../../test/helpers/servers.js';
import { Cleanup, LogLines, listen } from './helpers.js';

/**
 * Raw request capture and response capture for shadow copies: the handler reads exactly the bytes the client
 * sent, the shadow target receives exactly those bytes (never a re-serialized body), and bodies past the
 * limit are skipped and counted.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const MiB = 1024 * 1024;

/** What both the primary and the candidate answer for an upload: the checksum of the bytes they read. */
const digest = (body: Buffer) => ({ sha: sha256(body), bytes: body.length });

/** A candidate answering like the primary, from the bytes it received. */
function candidate(): Promise<TestServer> {
  return cleanup.server(
    serve((req: Received, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(req.method === 'GET' ? { items: [1, 2, 3] } : digest(req.body)));
    }),
  );
}

interface AppOptions {
  shadow: CanaryConfig['shadow'];
  flags?: CanaryConfig['flags'];
  logs?: LogLines;
  /** Runs on the app before the plugin is registered (hooks that must come first). */
  before?: (app: FastifyInstance) => void;
  /** Declares more routes. */
  routes?: (app: FastifyInstance) => void;
}

/** The primary: canary-kit plus an upload route (checksum of what the handler read) and a JSON GET route. */
async function primary(options: AppOptions) {
  const canary = cleanup.canary(
    createCanary({ shadow: options.shadow, flags: options.flags ?? { 'search-v2': { percentage: 50 } } }),
  );
  const app = cleanup.app(
    Fastify({
      bodyLimit: 16 * MiB,
      logger: options.logs ? { level: 'warn', stream: options.logs } : false,
    }),
  );
  options.before?.(app);
  app.register(canaryPlugin, {
    canary,
    context: (request) => ({ userId: request.headers['x-user'] as string }),
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  const handled: Buffer[] = [];
  app.post('/upload', { config: { canary: { shadow: { writes: true } } } }, async (request) => {
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    handled.push(body);
    return digest(body);
  });
  app.post('/json', { config: { canary: { shadow: { writes: true } } } }, async (request) => request.body);
  app.get('/items', async () => ({ items: [1, 2, 3] }));
  options.routes?.(app);
  return { canary, app, handled, base: await listen(app) };
}

const outcomes = (canary: Canary, name: string): Readonly<Record<ShadowOutcome, number>> =>
  canary.stats().shadow[name]!;

describe('raw request bodies reach the handler and the shadow target byte-identical', () => {
  it('0 B, 1 KiB, 1 MiB and chunked uploads: identical checksums at the handler and the target; 10 MiB skipped and counted', async () => {
    const target = await candidate();
    const { canary, base, handled } = await primary({
      shadow: { name: 'v2', target: target.url, methods: ['GET', 'POST'] },
    });
    const octet = { 'content-type': 'application/octet-stream' };
    const chunks = Array.from({ length: 37 }, (_, i) => payload(1 + ((i * 7919) % 20_000), i + 3));
    const chunked = Buffer.concat(chunks);
    const cases: { name: string; body: Buffer | Buffer[]; bytes: Buffer }[] = [
      { name: '0 B', body: Buffer.alloc(0), bytes: Buffer.alloc(0) },
      { name: '1 KiB', body: payload(1024, 11), bytes: payload(1024, 11) },
      { name: '1 MiB', body: payload(MiB, 12), bytes: payload(MiB, 12) },
      { name: 'chunked', body: chunks, bytes: chunked },
      { name: '10 MiB', body: payload(10 * MiB, 13), bytes: payload(10 * MiB, 13) },
    ];
    for (const c of cases) {
      const res = await send(`${base}/upload`, { method: 'POST', headers: octet, body: c.body });
      expect(res.status, c.name).toBe(200);
      expect(JSON.parse(res.body.toString()), c.name).toEqual(digest(c.bytes));
    }
    expect(handled.map(sha256)).toEqual(cases.map((c) => sha256(c.bytes)));

    // Four copies sent; the 10 MiB body is over maxBodyBytes (1 MiB): skipped, counted, never sent half.
    await until(() => outcomes(canary, 'v2').match + outcomes(canary, 'v2').skipped === 5, 'five outcomes');
    expect(outcomes(canary, 'v2')).toMatchObject({ match: 4, skipped: 1, mismatch: 0, error: 0, dropped: 0 });
    expect(target.received.map((r) => sha256(r.body))).toEqual(cases.slice(0, 4).map((c) => sha256(c.bytes)));
    expect(target.received[3]!.headers['transfer-encoding']).toBeUndefined(); // the copy has a length
  });

  it('sends the JSON bytes as the client wrote them, not as the parser would re-serialize them', async () => {
    const target = await candidate();
    const { canary, base } = await primary({ shadow: { name: 'v2', target: target.url, methods: ['POST'] } });
    const raw = Buffer.from('{ "b" : [1, 2.50, 3] ,\n  "a":"\\u00e9t\u00e9" }');
    const res = await send(`${base}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw,
    });
    expect(JSON.parse(res.body.toString())).toEqual({ b: [1, 2.5, 3], a: 'été' });
    await until(() => target.received.length === 1, 'the copy');
    expect(target.received[0]!.body.equals(raw)).toBe(true);
    await until(() => canary.shadows[0]!.inFlight === 0, 'the diff');
  });

  it('still captures exactly when an async onRequest hook before the plugin let the body arrive first', async () => {
    const target = await candidate();
    let bufferedAtHook = 0;
    const { canary, base, handled } = await primary({
      shadow: { name: 'v2', target: target.url, methods: ['POST'] },
      before: (app) =>
        app.addHook('onRequest', async (request) => {
          // Wait until part of the body sits unread in the request stream's buffer.
          await until(() => request.raw.readableLength > 0 || request.raw.complete, 'body bytes');
          bufferedAtHook = request.raw.readableLength;
        }),
    });
    const chunks = [payload(300, 1), payload(70_000, 2), payload(5, 3)];
    const client = send(`${base}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: chunks,
    });
    const res = await client;
    const bytes = Buffer.concat(chunks);
    expect(bufferedAtHook).toBeGreaterThan(0);
    expect(JSON.parse(res.body.toString())).toEqual(digest(bytes));
    expect(handled[0]!.equals(bytes)).toBe(true);
    await until(() => outcomes(canary, 'v2').match === 1, 'the match');
    expect(target.received[0]!.body.equals(bytes)).toBe(true);
  });

  it('warns once when the body was read before the plugin, and skips (counts) those copies instead of re-serializing', async () => {
    const target = await candidate();
    const logs = new LogLines();
    const { canary, base, handled } = await primary({
      shadow: { name: 'v2', target: target.url, methods: ['POST'] },
      logs,
      // What Express's body-parser does through @fastify/middie: reads request.raw and sets raw.body.
      before: (app) => {
        app.addHook('onRequest', async (request) => {
          const chunks: Buffer[] = [];
          for await (const chunk of request.raw) chunks.push(chunk as Buffer);
          (request.raw as typeof request.raw & { body?: Buffer }).body = Buffer.concat(chunks);
        });
        app.addHook('preParsing', async (request) =>
          Readable.from([(request.raw as typeof request.raw & { body: Buffer }).body]),
        );
      },
    });
    const bytes = payload(4096, 5);
    for (let i = 0; i < 3; i++) {
      const res = await send(`${base}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      expect(JSON.parse(res.body.toString())).toEqual(digest(bytes));
    }
    expect(handled.every((b) => b.equals(bytes))).toBe(true);
    await until(() => outcomes(canary, 'v2').skipped === 3, 'three skipped copies');
    expect(target.received).toHaveLength(0);
    expect(logs.matching('request body was read before canary-kit')).toBe(1);
  });
});

describe('primary responses are captured for the diff, and pass through unbuffered past the limit', () => {
  it('diffs the response as sent against the candidate and reports the differing field', async () => {
    const target = await cleanup.server(
      serve((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ items: [1, 2, 4] }));
      }),
    );
    const { canary, base } = await primary({ shadow: { name: 'v2', target: target.url } });
    const mismatches: MismatchEvent[] = [];
    canary.on('mismatch', (event) => mismatches.push(event));
    const res = await send(`${base}/items?page=2`);
    expect(JSON.parse(res.body.toString())).toEqual({ items: [1, 2, 3] });
    await until(() => mismatches.length === 1, 'the mismatch');
    expect(mismatches[0]).toMatchObject({
      target: 'v2',
      route: '/items',
      method: 'GET',
      url: '/items?page=2',
      differences: [{ path: '$.items[2]', kind: 'changed', primary: 3, candidate: 4 }],
    });
    expect(target.received[0]!.url).toBe('/items?page=2');
  });

  it('streams a 24 MiB response to the client whole while keeping only maxResponseBytes for the diff', async () => {
    const target = await cleanup.server(serve((_req, res) => writeLarge(res, 24 * MiB, 9)));
    const bytes = payload(24 * MiB, 9);
    const { canary, base } = await primary({
      shadow: { name: 'v2', target: target.url, maxResponseBytes: 64 * 1024 },
      routes: (app) =>
        app.get('/large', async (_request, reply) => {
          reply.type('application/octet-stream');
          return reply.send(
            Readable.from(
              (function* () {
                for (let o = 0; o < bytes.length; o += 65_536) yield bytes.subarray(o, o + 65_536);
              })(),
            ),
          );
        }),
    });
    const res = await send(`${base}/large`);
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(sha256(payload(24 * MiB, 9)));
    await until(() => canary.shadows[0]!.inFlight === 0 && target.received.length === 1, 'the copy');
    const counts = outcomes(canary, 'v2');
    // Both sides truncated at 64 KiB: equal prefixes, no difference found, but not a proven match.
    expect(counts.match + counts.mismatch + counts.skipped).toBe(1);
    expect(counts.mismatch).toBe(0);
  });
});

describe('route opt-in', () => {
  it('mirrors writes only on routes opting in with writes; GETs by route opt-in, paths, or flags', async () => {
    const byRoute = await candidate();
    const byPath = await candidate();
    const byFlag = await candidate();
    const canary = cleanup.canary(
      createCanary({
        flags: { 'search-v2': { percentage: 0 } },
        shadow: [
          { name: 'by-route', target: byRoute.url, methods: ['GET', 'POST'], paths: ['/never/**'] },
          { name: 'by-path', target: byPath.url, methods: ['GET', 'POST'], paths: ['/api/**'] },
          { name: 'by-flag', target: byFlag.url, methods: ['GET', 'POST'], flags: ['search-v2'] },
        ],
      }),
    );
    const app = cleanup.app(Fastify());
    app.register(canaryPlugin, { canary });
    const ok = async () => ({ items: [1, 2, 3] });
    app.get('/opted', { config: { canary: { shadow: 'by-route' } } }, ok);
    app.get('/api/plain', ok);
    app.post('/api/write', ok);
    app.post('/api/write-opted', { config: { canary: { shadow: { targets: [], writes: true } } } }, ok);
    app.get('/search', { config: { canary: { flag: 'search-v2' } } }, ok);
    app.get('/elsewhere', ok);
    const base = await listen(app);
    const json = { 'content-type': 'application/json' };
    await send(`${base}/opted`);
    await send(`${base}/api/plain`);
    await send(`${base}/api/write`, { method: 'POST', headers: json, body: Buffer.from('{"a":1}') });
    await send(`${base}/api/write-opted`, { method: 'POST', headers: json, body: Buffer.from('{"a":2}') });
    await send(`${base}/search`);
    await send(`${base}/elsewhere`);
    const settled = () =>
      Object.values(canary.stats().shadow).reduce((sum, counts) => sum + counts.match + counts.mismatch, 0);
    await until(() => settled() === 4, 'four diffed copies');
    expect(byRoute.received.map((r) => r.url)).toEqual(['/opted']);
    expect(byPath.received.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      'GET /api/plain ',
      'POST /api/write-opted {"a":2}',
    ]);
    expect(byFlag.received.map((r) => r.url)).toEqual(['/search']);
  });

  it('strips credentials from copies and marks them', async () => {
    const target = await candidate();
    const { base } = await primary({
      shadow: { name: 'v2', target: target.url, stripHeaders: ['x-session-token'] },
    });
    await send(`${base}/items`, {
      headers: {
        authorization: 'Bearer secret',
        cookie: 'sid=1',
        'x-api-key': 'k',
        'x-session-token': 't',
        'x-user': 'u-1',
      },
    });
    await until(() => target.received.length === 1, 'the copy');
    const headers = target.received[0]!.headers;
    for (const secret of ['authorization', 'cookie', 'x-api-key', 'x-session-token'])
      expect(headers[secret]).toBeUndefined();
    expect(headers['x-user']).toBe('u-1');
    expect(headers['x-canary-kit-shadow']).toBe('1');
  });

  it('rejects a malformed shadow opt-in when the route is declared, and warns about unknown target names', async () => {
    const logs = new LogLines();
    const canary = cleanup.canary(createCanary({ shadow: { name: 'v2', target: 'http://127.0.0.1:9' } }));
    const app = cleanup.app(Fastify({ logger: { level: 'warn', stream: logs } }));
    await app.register(canaryPlugin, { canary });
    const ok = async () => 'ok';
    expect(() => app.get('/a', { config: { canary: { shadow: { write: true } as never } } }, ok)).toThrow(
      /config\.canary\.shadow has unknown key "write"/,
    );
    expect(() => app.get('/b', { config: { canary: { shadow: 3 as never } } }, ok)).toThrow(
      /config\.canary\.shadow must be/,
    );
    expect(() => app.get('/c', { config: { canary: { shadow: { writes: 'yes' as never } } } }, ok)).toThrow(
      /shadow\.writes must be a boolean/,
    );
    expect(() => app.get('/d', { config: { canary: { shadow: [''] } } }, ok)).toThrow(/target name/);
    app.get('/e', { config: { canary: { shadow: ['v2', 'v3'] } } }, ok);
    expect(logs.matching('names "v3", which the Canary has no shadow target called (it has: v2)')).toBe(1);
  });
});
