import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CapturedResponse,
  compareResponses,
  sameContentType,
} from '../../src/diff/compare-responses.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const payload = {
  meta: { requestId: 'r-1' },
  items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5 })),
};
const plain = Buffer.from(JSON.stringify(payload));

function response(body: Buffer | undefined, headers: CapturedResponse['headers'] = JSON_TYPE, status = 200) {
  return { status, headers, body };
}

describe('status and headers', () => {
  it('a status change is a difference at `status`', async () => {
    expect(await compareResponses(response(plain), response(plain, JSON_TYPE, 500))).toEqual({
      outcome: 'mismatch',
      differences: [{ path: 'status', kind: 'changed', primary: 200, candidate: 500 }],
      truncated: false,
    });
  });

  it('content-type: media type case-insensitive; charset only when both sides state it', async () => {
    expect(sameContentType('application/json', 'Application/JSON; charset=utf-8')).toBe(true);
    expect(sameContentType('text/html; charset=utf-8', 'text/html; charset="UTF-8"')).toBe(true);
    expect(sameContentType('text/html; charset=utf-8', 'text/html; charset=iso-8859-1')).toBe(false);
    expect(sameContentType('application/json', 'application/problem+json')).toBe(false);
    const html = await compareResponses(response(plain), response(plain, { 'Content-Type': 'text/html' }));
    expect(html.differences[0]).toEqual({
      path: 'headers.content-type',
      kind: 'changed',
      primary: 'application/json',
      candidate: 'text/html',
    });
  });

  it('chosen headers are compared case-insensitively by name; missing and added are reported', async () => {
    const options = { headers: ['Content-Type', 'cache-control', 'x-version'] };
    const a = response(plain, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-version': '1',
    });
    const b = response(plain, { 'Content-Type': 'application/json', 'x-version': ['1', '2'], 'x-new': 'y' });
    expect((await compareResponses(a, b, options)).differences).toEqual([
      { path: 'headers.cache-control', kind: 'missing', primary: 'no-store' },
      { path: 'headers.x-version', kind: 'changed', primary: '1', candidate: '1, 2' },
    ]);
    expect((await compareResponses(b, a, options)).differences[0]).toEqual({
      path: 'headers.cache-control',
      kind: 'added',
      candidate: 'no-store',
    });
  });
});

describe('bodies', () => {
  it('byte-equal bodies match without decoding or parsing: invalid JSON on both sides still matches', async () => {
    const broken = Buffer.from('{"this is": not json');
    expect(await compareResponses(response(broken), response(broken))).toEqual({
      outcome: 'match',
      differences: [],
      truncated: false,
    });
    // Equal corrupt gzip bytes, too: no decode was attempted.
    const gz = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    expect((await compareResponses(response(broken, gz), response(broken, gz))).outcome).toBe('match');
  });

  it('gzip, br and deflate bodies decode and compare equal to the plain one', async () => {
    const encoded = [
      ['gzip', zlib.gzipSync(plain)],
      ['br', zlib.brotliCompressSync(plain)],
      ['deflate', zlib.deflateSync(plain)],
      ['deflate', zlib.deflateRawSync(plain)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(plain))],
    ] as const;
    for (const [coding, body] of encoded) {
      const headers = { 'content-type': 'application/json', 'content-encoding': coding };
      expect(await compareResponses(response(plain), response(body, headers))).toMatchObject({
        outcome: 'match',
      });
      expect(await compareResponses(response(body, headers), response(plain))).toMatchObject({
        outcome: 'match',
      });
    }
  });

  it('JSON bodies are deep-diffed under $ with ignore paths, tolerance and array order', async () => {
    const changed = structuredClone(payload);
    changed.meta.requestId = 'r-2';
    changed.items.reverse();
    changed.items[0]!.price += 0.001;
    changed.items[1]!.name = 'renamed';
    const candidate = response(zlib.gzipSync(JSON.stringify(changed)), {
      'content-type': 'application/json; charset=utf-8',
      'content-encoding': 'gzip',
    });
    const result = await compareResponses(response(plain), candidate, {
      ignore: ['$.meta.requestId'],
      tolerance: 0.01,
      arrays: { '$.items': { key: 'id' } },
    });
    expect(result).toEqual({
      outcome: 'mismatch',
      differences: [
        { path: '$.items[id=48].name', kind: 'changed', primary: 'item 48', candidate: 'renamed' },
      ],
      truncated: false,
    });
  });

  it('different JSON text for the same value matches (key order, whitespace, a BOM)', async () => {
    const reordered = Buffer.from(
      `\ufeff ${JSON.stringify({ items: payload.items, meta: payload.meta }, null, 2)}`,
    );
    expect((await compareResponses(response(plain), response(reordered))).outcome).toBe('match');
  });

  it('without a content type, JSON is sniffed by its first character', async () => {
    const a = response(Buffer.from(' {"a":1,"b":2}'), {});
    const b = response(Buffer.from('{"b":2,"a":1}'), {});
    expect((await compareResponses(a, b)).outcome).toBe('match');
    const text = await compareResponses(
      response(Buffer.from('{not json'), {}),
      response(Buffer.from('{not jsoN'), {}),
    );
    expect(text.differences).toEqual([
      {
        path: 'body',
        kind: 'changed',
        primary: '{not json',
        candidate: '{not jsoN',
        detail: 'first difference at byte 8 (9 vs 9 bytes)',
      },
    ]);
  });

  it('malformed JSON on one side is a body mismatch, not a throw', async () => {
    const result = await compareResponses(response(plain), response(Buffer.from('{"items": [1, 2,')));
    expect(result.outcome).toBe('mismatch');
    expect(result.differences).toEqual([
      expect.objectContaining({
        path: 'body',
        kind: 'type',
        detail: expect.stringMatching(/^candidate body is not valid JSON: /),
      }),
    ]);
  });

  it('a JSON body against an HTML error page is a type difference', async () => {
    const html = response(Buffer.from('<html>oops</html>'), { 'content-type': 'text/html' }, 200);
    const result = await compareResponses(response(plain), html);
    expect(result.differences.map((d) => [d.path, d.kind, d.detail])).toEqual([
      ['headers.content-type', 'changed', undefined],
      ['body', 'type', 'candidate body is not JSON (text/html)'],
    ]);
  });

  it('text and binary bodies: byte comparison with sizes and the first differing offset', async () => {
    const a = response(Buffer.from('hello world'), { 'content-type': 'text/plain' });
    const b = response(Buffer.from('hello World!'), { 'content-type': 'text/plain' });
    expect((await compareResponses(a, b)).differences).toEqual([
      {
        path: 'body',
        kind: 'changed',
        primary: 'hello world',
        candidate: 'hello World!',
        detail: 'first difference at byte 6 (11 vs 12 bytes)',
      },
    ]);
    const bin = (bytes: number[]) =>
      response(Buffer.from(bytes), { 'content-type': 'application/octet-stream' });
    expect((await compareResponses(bin([0, 1, 2]), bin([0, 1, 3]))).differences[0]).toMatchObject({
      primary: '<000102>',
      candidate: '<000103>',
      detail: 'first difference at byte 2 (3 vs 3 bytes)',
    });
    const long = (c: string) =>
      response(Buffer.from(`${'x'.repeat(1000)}${c}${'y'.repeat(1000)}`), { 'content-type': 'text/plain' });
    const [d] = (await compareResponses(long('a'), long('b'), { maxValueLength: 40 })).differences;
    expect(d).toMatchObject({ primary: `…${'x'.repeat(16)}a${'y'.repeat(23)}…` });
  });

  it('missing bodies are empty bodies', async () => {
    expect((await compareResponses(response(undefined), response(Buffer.alloc(0)))).outcome).toBe('match');
    expect((await compareResponses(response(undefined, {}), response(Buffer.from('x'), {}))).outcome).toBe(
      'mismatch',
    );
  });

  it('a truncated body on either side is skipped: truncated, unless the status already differs', async () => {
    const truncated = { ...response(plain), bodyTruncated: true };
    expect(await compareResponses(response(plain), truncated)).toEqual({
      outcome: 'skipped',
      reason: 'truncated',
      differences: [],
      truncated: false,
    });
    expect(await compareResponses(truncated, { ...truncated, status: 503 })).toMatchObject({
      outcome: 'mismatch',
      reason: 'truncated',
      differences: [{ path: 'status' }],
    });
  });

  it('a zip bomb is skipped: too-large', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    expect(await compareResponses(response(plain), response(bomb, headers))).toEqual({
      outcome: 'skipped',
      reason: 'too-large',
      differences: [],
      truncated: false,
    });
  });

  it('a corrupt encoding next to a good body is a mismatch; an unknown one is skipped', async () => {
    const corrupt = response(Buffer.from('garbage'), {
      'content-type': 'application/json',
      'content-encoding': 'br',
    });
    expect((await compareResponses(response(plain), corrupt)).differences).toEqual([
      expect.objectContaining({ path: 'body', kind: 'changed', detail: 'candidate body: not valid br' }),
    ]);
    const unknown = response(plain, { 'content-type': 'application/json', 'content-encoding': 'compress' });
    expect(await compareResponses(response(plain), unknown)).toMatchObject({
      outcome: 'skipped',
      reason: 'unsupported-encoding',
    });
  });

  it('big JSON: past maxJsonBytes it is not parsed; past maxNodes the diff stops; both skipped by budget', async () => {
    const nodes = Buffer.from(JSON.stringify(Array(200_000).fill(0)));
    const other = Buffer.from(JSON.stringify(Array(200_000).fill(0)).replace(/]$/, ' ]'));
    expect(nodes.length).toBeLessThan(1024 * 1024);
    expect(await compareResponses(response(nodes), response(other))).toEqual({
      outcome: 'skipped',
      reason: 'budget',
      differences: [],
      truncated: false,
    });
    expect((await compareResponses(response(nodes), response(other), { maxNodes: 300_000 })).outcome).toBe(
      'match',
    );
    expect(await compareResponses(response(nodes), response(other), { maxJsonBytes: 1000 })).toMatchObject({
      outcome: 'skipped',
      reason: 'budget',
    });
  });

  it('status, header and body differences share one cap', async () => {
    const a = response(Buffer.from(JSON.stringify({ a: 1, b: 2, c: 3 })), { ...JSON_TYPE, 'x-v': '1' });
    const b = response(Buffer.from(JSON.stringify({ a: 0, b: 0, c: 0 })), { ...JSON_TYPE, 'x-v': '2' }, 201);
    const result = await compareResponses(a, b, { maxDifferences: 3, headers: ['content-type', 'x-v'] });
    expect(result.truncated).toBe(true);
    expect(result.differences.map((d) => d.path)).toEqual(['status', 'headers.x-v', '$.a']);
    const capped = await compareResponses(response(plain), response(plain, {}, 500), { maxDifferences: 0 });
    expect(capped).toMatchObject({ outcome: 'mismatch', truncated: true, differences: [] });
  });
});

describe('never throws', () => {
  it('invalid options resolve as skipped: error, with the error', async () => {
    const result = await compareResponses(response(plain), response(plain), { ignore: ['nope'] });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'error' });
    expect(result.error?.name).toBe('CanaryConfigError');
  });

  it('resolves on any input, however malformed', async () => {
    const side = fc.record({
      status: fc.oneof(fc.integer(), fc.anything()),
      headers: fc.oneof(
        fc.dictionary(
          fc.constantFrom('content-type', 'Content-Encoding', 'content-encoding', 'x'),
          fc.oneof(
            fc.string(),
            fc.array(fc.string()),
            fc.integer(),
            fc.constantFrom('gzip', 'br', 'application/json'),
          ),
        ),
        fc.anything(),
      ),
      body: fc.oneof(
        fc.uint8Array().map((a) => Buffer.from(a)),
        fc.constant(undefined),
        fc.string().map((s) => Buffer.from(s)),
      ),
      bodyTruncated: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(side, side, async (a, b) => {
        const result = await compareResponses(a as CapturedResponse, b as CapturedResponse);
        expect(['match', 'mismatch', 'skipped']).toContain(result.outcome);
        expect(result.reason).not.toBe('error');
      }),
      { numRuns: 300 },
    );
  });
});
