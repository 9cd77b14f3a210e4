import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody, parseContentEncoding } from '../../src/diff/decode-body.js';

const text = Buffer.from(JSON.stringify({ hello: 'world', list: Array.from({ length: 200 }, (_, i) => i) }));

describe('parseContentEncoding', () => {
  it('lists codings in the order applied, lower-cased, without identity', () => {
    expect(parseContentEncoding(undefined)).toEqual([]);
    expect(parseContentEncoding('')).toEqual([]);
    expect(parseContentEncoding('identity')).toEqual([]);
    expect(parseContentEncoding('GZIP')).toEqual(['gzip']);
    expect(parseContentEncoding(' gzip , identity,BR ')).toEqual(['gzip', 'br']);
    expect(parseContentEncoding(['gzip', 'br'])).toEqual(['gzip', 'br']);
  });
});

describe('decodeBody', () => {
  it.each([
    ['gzip', zlib.gzipSync(text)],
    ['x-gzip', zlib.gzipSync(text)],
    ['deflate', zlib.deflateSync(text)],
    ['deflate', zlib.deflateRawSync(text)],
    ['br', zlib.brotliCompressSync(text)],
    ['identity', text],
    [undefined, text],
    ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(text))],
    [['deflate', 'gzip'], zlib.gzipSync(zlib.deflateSync(text))],
  ])('%j', async (encoding, body) => {
    const result = await decodeBody(body, encoding);
    expect(result.ok && result.body.equals(text)).toBe(true);
  });

  it('decodes a Uint8Array as well as a Buffer, and leaves an empty body alone', async () => {
    const gz = zlib.gzipSync(text);
    const result = await decodeBody(new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength), 'gzip');
    expect(result.ok && result.body.equals(text)).toBe(true);
    expect(await decodeBody(Buffer.alloc(0), 'gzip')).toEqual({ ok: true, body: Buffer.alloc(0) });
  });

  it('small inputs decode synchronously up to 256 KiB, then again off the loop; large inputs off the loop', async () => {
    // 1 KiB of input expanding to 1 MiB: past the synchronous cap, within the limit.
    const expands = Buffer.alloc(1024 * 1024, 'a');
    const small = await decodeBody(zlib.gzipSync(expands), 'gzip');
    expect(small.ok && small.body.equals(expands)).toBe(true);
    // 200 KiB of incompressible input: straight to the thread pool.
    const noise = Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 7919) % 251));
    const large = await decodeBody(zlib.brotliCompressSync(noise), 'br');
    expect(large.ok && large.body.equals(noise)).toBe(true);
  });

  it('a zip bomb stops at maxBytes: too-large, whatever the coding', async () => {
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const bombs = {
      gzip: zlib.gzipSync(zeros),
      br: zlib.brotliCompressSync(zeros),
      deflate: zlib.deflateSync(zeros),
    };
    expect(bombs.gzip.length).toBeLessThan(20_000);
    for (const [coding, bomb] of Object.entries(bombs)) {
      expect(await decodeBody(bomb, coding)).toEqual({ ok: false, reason: 'too-large', encoding: coding });
      expect(await decodeBody(bomb, coding, { maxBytes: 1024 })).toEqual({
        ok: false,
        reason: 'too-large',
        encoding: coding,
      });
    }
    expect((await decodeBody(bombs.gzip, 'gzip', { maxBytes: 32 * 1024 * 1024 })).ok).toBe(true);
  });

  it('corrupt or truncated data is corrupt; an unknown coding is unsupported', async () => {
    expect(await decodeBody(Buffer.from('not gzip'), 'gzip')).toEqual({
      ok: false,
      reason: 'corrupt',
      encoding: 'gzip',
    });
    const gz = zlib.gzipSync(text);
    expect(await decodeBody(gz.subarray(0, gz.length - 10), 'gzip')).toMatchObject({
      ok: false,
      reason: 'corrupt',
    });
    expect(await decodeBody(Buffer.from('x'), 'br')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await decodeBody(text, 'compress')).toEqual({
      ok: false,
      reason: 'unsupported-encoding',
      encoding: 'compress',
    });
  });
});
