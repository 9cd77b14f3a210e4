/**
 * The published bucketing algorithm (docs/bucketing.md): `murmur3_x86_32(utf8(seed + ":" + identity), 0) % 10000`.
 *
 * Four implementations must agree on every input: src (`murmur3`, and the prefix/resume split the evaluator
 * uses), the `murmurhash` npm package, and the independent reference in ./reference/murmur3-reference.ts.
 * docs/bucketing-vectors.json is generated from the reference and checked here, byte for byte.
 */
import { readFileSync } from 'node:fs';
import { createCanary, murmur3, murmur3Prefix, murmur3Resume } from '@canary-kit/core';
import fc from 'fast-check';
import murmurhash from 'murmurhash';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BucketingVector,
  CASES,
  identityOf,
  renderVectorFile,
  type VectorFile,
} from './reference/generate-vectors.js';
import {
  mul32,
  murmur3Reference,
  murmur3ReferenceBytes,
  referenceBucket,
  utf8,
} from './reference/murmur3-reference.js';

const VECTOR_FILE = new URL('../../../docs/bucketing-vectors.json', import.meta.url);
const vectorFile = JSON.parse(readFileSync(VECTOR_FILE, 'utf8')) as VectorFile;
const vectors: readonly BucketingVector[] = vectorFile.vectors;

/** UTF-8 concatenation of two separately encoded strings. */
function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;
/** True when cutting `s` at `k` separates the two halves of a surrogate pair. */
const splitsPair = (s: string, k: number) =>
  k > 0 && k < s.length && isHigh(s.charCodeAt(k - 1)) && isLow(s.charCodeAt(k));

/** `s` with every lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, spelled out). */
function replaceLoneSurrogates(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      out += s.slice(i, i + 2);
      i++;
    } else out += isHigh(c) || isLow(c) ? '\ufffd' : s[i];
  }
  return out;
}

describe('reference MurmurHash3 x86_32', () => {
  it('gives the three vectors published in ARCHITECTURE.md', () => {
    expect(murmur3Reference('test:123')).toBe(1898182313);
    expect(murmur3Reference('checkout-v2:a@b.com')).toBe(220496259);
    expect(murmur3Reference('flag:ünïcødé-用户')).toBe(2738191476);
    expect(referenceBucket('test', '123')).toBe(1898182313 % 10_000);
  });

  it('gives the SMHasher verification values and known seeded vectors', () => {
    // Well-known MurmurHash3_x86_32 results (smhasher, Python mmh3, Go spaolacci/murmur3 test tables).
    expect(murmur3ReferenceBytes(new Uint8Array(0), 0)).toBe(0);
    expect(murmur3ReferenceBytes(new Uint8Array(0), 1)).toBe(0x514e28b7);
    expect(murmur3ReferenceBytes(new Uint8Array(0), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3ReferenceBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0)).toBe(0x76293b50);
    expect(murmur3ReferenceBytes(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0)).toBe(0xf55b516b);
    expect(murmur3ReferenceBytes(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082edee)).toBe(0x2362f9de);
    expect(murmur3ReferenceBytes(new Uint8Array([0x21, 0x43, 0x65]), 0)).toBe(0x7e4a8634);
    expect(murmur3ReferenceBytes(new Uint8Array([0x21, 0x43]), 0)).toBe(0xa0f7b07a);
    expect(murmur3ReferenceBytes(new Uint8Array([0x21]), 0)).toBe(0x72661cf4);
    expect(murmur3ReferenceBytes(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
    expect(murmur3Reference('Hello, world!', 1234)).toBe(0xfaf6cdb3);
    expect(murmur3Reference('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('multiplies modulo 2^32 like uint32_t', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
        expect(mul32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) % 2n ** 32n));
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes lone surrogates as U+FFFD, like TextEncoder and Buffer', () => {
    expect([...utf8('\ud800')]).toEqual([0xef, 0xbf, 0xbd]);
    expect([...utf8('a\udc00b')]).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62]);
    expect(Buffer.from(utf8('x\udbff\ud83d\ude00'))).toEqual(Buffer.from('x\udbff\ud83d\ude00', 'utf8'));
  });
});

describe('docs/bucketing-vectors.json', () => {
  it('is exactly what generate-vectors.ts produces (regenerate with `vitest run <this file> -u`)', async () => {
    await expect(renderVectorFile()).toMatchFileSnapshot('../../../docs/bucketing-vectors.json');
  });

  it('holds at least 60 well-formed vectors, names unique, including the required categories', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(60);
    expect(vectors.length).toBe(CASES.length);
    expect(new Set(vectors.map((v) => v.name)).size).toBe(vectors.length);
    for (const v of vectors) {
      const identity = identityOf(v);
      expect((v.identity === undefined) !== (v.repeat === undefined), v.name).toBe(true);
      if (v.identity !== undefined) {
        expect(v.input, v.name).toBe(`${v.seed}:${v.identity}`);
        expect(v.inputUtf8Hex, v.name).toBe(Buffer.from(`${v.seed}:${identity}`, 'utf8').toString('hex'));
      }
      expect(v.utf8Length, v.name).toBe(Buffer.byteLength(`${v.seed}:${identity}`, 'utf8'));
      expect(Number.isInteger(v.hash) && v.hash >= 0 && v.hash <= 0xffffffff, v.name).toBe(true);
      expect(v.bucket, v.name).toBe(v.hash % 10_000);
    }
    const byName = new Map(vectors.map((v) => [v.name, v]));
    expect(byName.get('architecture-ascii')?.hash).toBe(1898182313);
    expect(byName.get('architecture-email')?.hash).toBe(220496259);
    expect(byName.get('architecture-unicode')?.hash).toBe(2738191476);
    // Every identity length 0..16.
    const lengths = new Set(
      vectors.filter((v) => v.name.startsWith('tail-length-')).map((v) => identityOf(v).length),
    );
    expect([...lengths].sort((a, b) => a - b)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    // Every tail length of the hashed input.
    expect(new Set(vectors.map((v) => v.utf8Length % 4))).toEqual(new Set([0, 1, 2, 3]));
    // 1 KB and 10 KB identities.
    expect(vectors.some((v) => v.repeat !== undefined && identityOf(v).length === 1024)).toBe(true);
    expect(vectors.some((v) => v.repeat !== undefined && Buffer.byteLength(identityOf(v)) >= 10_000)).toBe(
      true,
    );
    // A lone surrogate buckets like U+FFFD.
    expect(byName.get('lone-high-surrogate')?.hash).toBe(byName.get('replacement-character')?.hash);
    expect(byName.get('lone-high-surrogate')?.inputUtf8Hex?.endsWith('efbfbd')).toBe(true);
    // NFC and NFD are different inputs.
    expect(byName.get('combining-nfc')?.hash).not.toBe(byName.get('combining-nfd')?.hash);
    // "a" + ":" + "b:c" and "a:b" + ":" + "c" are the same input.
    expect(byName.get('ascii-colon-in-identity')?.hash).toBe(byName.get('ascii-colon-in-seed')?.hash);
  });

  describe.each(vectors.map((v) => [v.name, v] as const))('vector %s', (_name, v) => {
    const identity = identityOf(v);
    const input = `${v.seed}:${identity}`;

    it('reference implementation', () => {
      expect(murmur3Reference(input)).toBe(v.hash);
      expect(murmur3ReferenceBytes(Buffer.from(input, 'utf8'))).toBe(v.hash);
    });

    it('src murmur3', () => {
      expect(murmur3(input)).toBe(v.hash);
      expect(murmur3(input) % 10_000).toBe(v.bucket);
    });

    it('src murmur3Resume(murmur3Prefix(seed + ":"), identity)', () => {
      expect(murmur3Resume(murmur3Prefix(`${v.seed}:`), identity)).toBe(v.hash);
    });

    it('npm murmurhash v3 (string and bytes)', () => {
      expect(murmurhash.v3(input)).toBe(v.hash);
      expect(murmurhash.v3(new TextEncoder().encode(input))).toBe(v.hash);
    });
  });
});

describe('src murmur3 equals the reference on random strings', () => {
  /** Any UTF-16 code unit, lone surrogates included. */
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  /** Surrogate halves, to make pairs and lone surrogates frequent. */
  const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  /** Strings mixing graphemes, full-range code points, arbitrary code units and surrogate halves. */
  const anyString = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 24 }),
    fc.string({ unit: 'grapheme-composite', maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
    fc.string({
      unit: fc.oneof(codeUnit, surrogate, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
      maxLength: 40,
    }),
  );
  const seed = fc.nat({ max: 0xffffffff });

  it('murmur3(s) and murmur3(s, seed) for 10,000 strings, lone surrogates included', () => {
    fc.assert(
      fc.property(anyString, seed, (s, hashSeed) => {
        expect(murmur3(s)).toBe(murmur3Reference(s));
        expect(murmur3(s)).toBe(murmurhash.v3(s));
        expect(murmur3(s, hashSeed)).toBe(murmur3Reference(s, hashSeed));
      }),
      { numRuns: 10_000 },
    );
  });

  it('strings with lone surrogates hash as their U+FFFD-replaced form (10,000 strings)', () => {
    const withLone = fc
      .tuple(anyString, surrogate, anyString)
      .map(([a, half, b]) => `${a}${half}${b}`)
      .filter((s) => replaceLoneSurrogates(s) !== s);
    fc.assert(
      fc.property(withLone, (s) => {
        expect(murmur3(s)).toBe(murmur3Reference(s));
        expect(murmur3(s)).toBe(murmur3(replaceLoneSurrogates(s)));
        expect(murmur3(s)).toBe(murmur3ReferenceBytes(Buffer.from(s, 'utf8')));
      }),
      { numRuns: 10_000 },
    );
  });

  it('murmur3Resume(murmur3Prefix(a), b) hashes utf8(a) followed by utf8(b), at every split point (10,000 strings)', () => {
    const stringAndSplit = anyString.chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.length })));
    fc.assert(
      fc.property(stringAndSplit, seed, ([s, k], hashSeed) => {
        const a = s.slice(0, k);
        const b = s.slice(k);
        const resumed = murmur3Resume(murmur3Prefix(a, hashSeed), b);
        // The prefix state is a function of the bytes of `a` alone.
        expect(resumed).toBe(murmur3ReferenceBytes(concatBytes(utf8(a), utf8(b)), hashSeed));
        // When the cut does not separate a surrogate pair, that is the hash of the whole string.
        if (!splitsPair(s, k)) expect(resumed).toBe(murmur3(s, hashSeed));
      }),
      { numRuns: 10_000 },
    );
  });

  it('seed ":" identity through prefix/resume equals the whole-string hash (10,000 pairs)', () => {
    fc.assert(
      fc.property(anyString, anyString, (flagSeed, identity) => {
        const expected = murmur3Reference(`${flagSeed}:${identity}`);
        expect(murmur3Resume(murmur3Prefix(`${flagSeed}:`), identity)).toBe(expected);
        expect(murmur3(`${flagSeed}:${identity}`)).toBe(expected);
      }),
      { numRuns: 10_000 },
    );
  });

  it('agrees on long strings crossing many blocks', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(codeUnit, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
          minLength: 200,
          maxLength: 3000,
        }),
        (s) => {
          expect(murmur3(s)).toBe(murmur3Reference(s));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('canary.evaluate uses the published bucket', () => {
  // One flag per distinct vector seed. Seeds that are valid flag keys (ASCII) name their flag, so the seed is
  // the default one, the flag key; the others (non-ASCII seeds) get a flag with an explicit `seed`.
  const FLAG_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;
  const seeds = [...new Set(vectors.map((v) => v.seed))];
  const keyOf = (seed: string) => (FLAG_KEY.test(seed) ? seed : `custom-seed-${seeds.indexOf(seed)}`);
  const percentage = 37.5;
  const canary = createCanary({
    flags: {
      ...Object.fromEntries(
        seeds.map((s) => [keyOf(s), FLAG_KEY.test(s) ? { percentage } : { percentage, seed: s }]),
      ),
      // Custom seeds: a flag key that differs from the seed buckets like the seed.
      'renamed-flag': { percentage, seed: 'checkout-v2' },
      'another-flag': { percentage: 100, seed: 'test' },
      'unicode-seed-flag': { percentage: 0, seed: 'größe' },
    },
  });
  afterAll(() => canary.close());

  const bucketed = vectors.filter((v) => identityOf(v).length > 0);

  it('seed = flag key (or a custom seed): bucket and version match every vector with a non-empty identity', () => {
    expect(bucketed.length).toBeGreaterThan(60);
    expect(seeds.filter((s) => !FLAG_KEY.test(s)).length).toBeGreaterThan(0);
    for (const v of bucketed) {
      const decision = canary.evaluate(keyOf(v.seed), { userId: identityOf(v) });
      expect(decision, v.name).toEqual({
        flag: keyOf(v.seed),
        version: v.bucket < percentage * 100 ? 'canary' : 'stable',
        reason: 'percentage',
        bucket: v.bucket,
      });
    }
  });

  it('the ARCHITECTURE.md vectors through flags named after their seed', () => {
    expect(canary.evaluate('test', { userId: '123' }).bucket).toBe(1898182313 % 10_000);
    expect(canary.evaluate('checkout-v2', { userId: 'a@b.com' }).bucket).toBe(220496259 % 10_000);
    expect(canary.evaluate('flag', { userId: 'ünïcødé-用户' }).bucket).toBe(2738191476 % 10_000);
  });

  it('custom seed: the flag buckets by its seed, not its key', () => {
    for (const v of bucketed.filter((x) => x.seed === 'checkout-v2')) {
      expect(canary.evaluate('renamed-flag', { userId: identityOf(v) }).bucket, v.name).toBe(v.bucket);
    }
    expect(canary.evaluate('another-flag', { userId: '123' })).toEqual({
      flag: 'another-flag',
      version: 'canary',
      reason: 'percentage',
      bucket: 1898182313 % 10_000,
    });
    const latin1 = vectors.find((v) => v.name === 'latin1-seed')!;
    expect(canary.evaluate('unicode-seed-flag', { userId: 'user-1' })).toEqual({
      flag: 'unicode-seed-flag',
      version: 'stable',
      reason: 'percentage',
      bucket: latin1.bucket,
    });
  });

  it('numeric identities bucket as String(value)', () => {
    const v = vectors.find((x) => x.name === 'ascii-numeric')!;
    expect(canary.evaluate('checkout-v2', { userId: 42 as unknown as string }).bucket).toBe(v.bucket);
  });

  it('an empty identity is never bucketed', () => {
    expect(canary.evaluate('checkout-v2', { userId: '' })).toMatchObject({
      reason: 'no-identity',
      bucket: null,
    });
  });

  it('the threshold is percentage × 100 in 0.01 % steps, and a higher percentage only adds identities', () => {
    const identities = bucketed.filter((v) => v.seed === 'checkout-v2');
    const steps = [0, 0.01, 0.5, 12.34, 37.5, 50, 99.99, 100];
    const flags = Object.fromEntries(steps.map((p) => [`p${p}`, { percentage: p, seed: 'checkout-v2' }]));
    const c = createCanary({ flags });
    try {
      for (const v of identities) {
        let wasCanary = false;
        for (const p of steps) {
          const d = c.evaluate(`p${p}`, { userId: identityOf(v) });
          expect(d.bucket).toBe(v.bucket);
          expect(d.version, `${v.name} at ${p}%`).toBe(v.bucket < Math.round(p * 100) ? 'canary' : 'stable');
          if (wasCanary) expect(d.version).toBe('canary');
          wasCanary = d.version === 'canary';
        }
      }
    } finally {
      void c.close();
    }
  });
});
