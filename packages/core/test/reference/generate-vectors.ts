/**
 * Generates docs/bucketing-vectors.json, the published test vectors of canary-kit's bucketing, with the
 * independent reference MurmurHash3 in ./murmur3-reference.ts (never with src/).
 *
 * The vector file is checked in CI by packages/core/test/bucketing.test.ts, which compares it byte for byte
 * with `renderVectorFile()` and checks every vector against src, the `murmurhash` npm package and the
 * reference. To regenerate after changing the case list below, either
 *
 *   ./node_modules/.bin/vitest run packages/core/test/bucketing.test.ts -u
 *
 * (the file is a vitest file snapshot), or build this script and run it with node from the repository root:
 *
 *   ./node_modules/.bin/tsdown packages/core/test/reference/generate-vectors.ts --no-config -d /tmp/gen-vectors \
 *     && node /tmp/gen-vectors/generate-vectors.mjs
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { murmur3Reference, utf8 } from './murmur3-reference.js';

/** A case before hashing. `repeat` stands for an identity too long to store inline. */
export interface VectorCase {
  readonly name: string;
  readonly seed: string;
  readonly identity?: string;
  readonly repeat?: { readonly unit: string; readonly times: number };
  readonly note?: string;
}

/** A published vector. Exactly one of `identity` (with `input`) and `repeat` is present. */
export interface BucketingVector {
  readonly name: string;
  readonly seed: string;
  readonly identity?: string;
  readonly repeat?: { readonly unit: string; readonly times: number };
  readonly input?: string;
  readonly inputUtf8Hex?: string;
  readonly utf8Length: number;
  readonly hash: number;
  readonly bucket: number;
  readonly note?: string;
}

export interface VectorFile {
  readonly description: string;
  readonly algorithm: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly generatedBy: string;
  readonly vectors: readonly BucketingVector[];
}

/** The identity a case stands for (expanding `repeat`). */
export function identityOf(c: { identity?: string; repeat?: { unit: string; times: number } }): string {
  if (c.repeat !== undefined) return c.repeat.unit.repeat(c.repeat.times);
  if (c.identity === undefined) throw new Error('a vector needs identity or repeat');
  return c.identity;
}

const TAIL_ALPHABET = '0123456789abcdef';

export const CASES: readonly VectorCase[] = [
  // The three vectors in ARCHITECTURE.md.
  { name: 'architecture-ascii', seed: 'test', identity: '123' },
  { name: 'architecture-email', seed: 'checkout-v2', identity: 'a@b.com' },
  { name: 'architecture-unicode', seed: 'flag', identity: 'ünïcødé-用户' },

  // Plain ASCII identities.
  { name: 'ascii-user-id', seed: 'checkout-v2', identity: 'user-1' },
  { name: 'ascii-user-id-2', seed: 'checkout-v2', identity: 'user-2' },
  {
    name: 'ascii-numeric',
    seed: 'checkout-v2',
    identity: '42',
    note: 'numeric context values are bucketed as String(value)',
  },
  { name: 'ascii-number-decimal', seed: 'checkout-v2', identity: '3.14' },
  { name: 'ascii-uuid', seed: 'new-search', identity: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' },
  { name: 'ascii-email', seed: 'new-search', identity: 'jane.doe+canary@example.com' },
  { name: 'ascii-spaces', seed: 'new-search', identity: 'first last' },
  { name: 'ascii-punctuation', seed: 'new-search', identity: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~' },
  {
    name: 'ascii-colon-in-identity',
    seed: 'a',
    identity: 'b:c',
    note: 'same input (and bucket) as seed "a:b", identity "c"',
  },
  {
    name: 'ascii-colon-in-seed',
    seed: 'a:b',
    identity: 'c',
    note: 'same input (and bucket) as seed "a", identity "b:c"',
  },
  { name: 'ascii-control-chars', seed: 'new-search', identity: 'tab\there\nnewline' },
  { name: 'ascii-del', seed: 'new-search', identity: '\u007f' },

  // Empty and empty-ish identities.
  {
    name: 'empty-identity',
    seed: 'checkout-v2',
    identity: '',
    note: 'canary-kit never buckets an empty identity (reason no-identity); listed so ports agree on the hash of "seed:"',
  },
  { name: 'empty-ish-space', seed: 'checkout-v2', identity: ' ' },
  { name: 'empty-ish-tab', seed: 'checkout-v2', identity: '\t' },
  { name: 'empty-ish-zero', seed: 'checkout-v2', identity: '0' },
  { name: 'empty-ish-nul', seed: 'checkout-v2', identity: '\u0000' },
  { name: 'empty-ish-null-word', seed: 'checkout-v2', identity: 'null' },
  { name: 'empty-ish-undefined-word', seed: 'checkout-v2', identity: 'undefined' },
  {
    name: 'empty-ish-nbsp',
    seed: 'checkout-v2',
    identity: '\u00a0',
    note: 'U+00A0 NO-BREAK SPACE, 2 UTF-8 bytes',
  },
  {
    name: 'empty-ish-zwsp',
    seed: 'checkout-v2',
    identity: '\u200b',
    note: 'U+200B ZERO WIDTH SPACE, 3 UTF-8 bytes',
  },
  {
    name: 'empty-ish-bom',
    seed: 'checkout-v2',
    identity: '\ufeff',
    note: 'U+FEFF is hashed like any character',
  },

  // Latin-1.
  { name: 'latin1-cafe', seed: 'checkout-v2', identity: 'café' },
  { name: 'latin1-muller', seed: 'checkout-v2', identity: 'Müller' },
  { name: 'latin1-sharp-s', seed: 'checkout-v2', identity: 'ß' },
  {
    name: 'latin1-y-diaeresis',
    seed: 'checkout-v2',
    identity: 'ÿ',
    note: 'U+00FF, the last Latin-1 code point',
  },
  { name: 'latin1-symbols', seed: 'checkout-v2', identity: '©®°±µ¶' },
  { name: 'latin1-seed', seed: 'größe', identity: 'user-1', note: 'a non-ASCII seed (flag key)' },

  // CJK.
  { name: 'cjk-chinese', seed: 'checkout-v2', identity: '用户' },
  { name: 'cjk-japanese', seed: 'checkout-v2', identity: 'ユーザー' },
  { name: 'cjk-korean', seed: 'checkout-v2', identity: '사용자' },
  {
    name: 'cjk-extension-b',
    seed: 'checkout-v2',
    identity: '𠀀𪚥',
    note: 'astral CJK ideographs: surrogate pairs, 4 UTF-8 bytes each',
  },
  { name: 'cjk-seed', seed: '结账', identity: 'user-1' },

  // Emoji (surrogate pairs, sequences).
  { name: 'emoji-single', seed: 'checkout-v2', identity: '😀' },
  { name: 'emoji-zwj-sequence', seed: 'checkout-v2', identity: '👩‍💻', note: 'U+1F469 U+200D U+1F4BB' },
  { name: 'emoji-flag', seed: 'checkout-v2', identity: '🇫🇷' },
  { name: 'emoji-skin-tone', seed: 'checkout-v2', identity: '👍🏽' },
  { name: 'emoji-mixed', seed: 'checkout-v2', identity: 'user-😀-1' },

  // Combining marks: no Unicode normalization is applied, NFC and NFD bucket differently.
  { name: 'combining-nfc', seed: 'checkout-v2', identity: 'é', note: 'U+00E9 (NFC)' },
  {
    name: 'combining-nfd',
    seed: 'checkout-v2',
    identity: 'e\u0301',
    note: 'U+0065 U+0301 (NFD): not normalized',
  },
  { name: 'combining-stack', seed: 'checkout-v2', identity: 'a\u0300\u0301\u0302\u0303' },

  // Right-to-left scripts.
  { name: 'rtl-arabic', seed: 'checkout-v2', identity: 'مستخدم' },
  { name: 'rtl-hebrew', seed: 'checkout-v2', identity: 'משתמש' },
  { name: 'rtl-mixed-with-marks', seed: 'checkout-v2', identity: '\u200fuser-עברית-1\u200e' },

  // Lone surrogates: encoded as U+FFFD (EF BF BD), exactly as TextEncoder and Buffer.from(s, 'utf8') do.
  {
    name: 'lone-high-surrogate',
    seed: 'checkout-v2',
    identity: '\ud800',
    note: 'lone surrogate: hashed as U+FFFD',
  },
  {
    name: 'lone-low-surrogate',
    seed: 'checkout-v2',
    identity: 'a\udc00b',
    note: 'lone surrogate: hashed as U+FFFD',
  },
  {
    name: 'lone-high-surrogate-at-end',
    seed: 'checkout-v2',
    identity: 'user-\udbff',
    note: 'lone surrogate: hashed as U+FFFD',
  },
  {
    name: 'reversed-surrogate-pair',
    seed: 'checkout-v2',
    identity: '\udc00\ud800',
    note: 'low then high: two lone surrogates, hashed as two U+FFFD',
  },
  {
    name: 'replacement-character',
    seed: 'checkout-v2',
    identity: '\ufffd',
    note: 'same bucket as lone-high-surrogate',
  },

  // Very long identities, stored as `repeat` (identity = unit repeated `times` times).
  { name: 'long-1kb-ascii', seed: 'checkout-v2', repeat: { unit: 'ab', times: 512 } },
  { name: 'long-10kb-ascii', seed: 'checkout-v2', repeat: { unit: 'ab', times: 5000 } },
  { name: 'long-10kb-latin1', seed: 'checkout-v2', repeat: { unit: 'é', times: 5000 } },
  { name: 'long-10kb-cjk', seed: 'checkout-v2', repeat: { unit: '用户', times: 1707 } },
  { name: 'long-10kb-emoji', seed: 'checkout-v2', repeat: { unit: '😀', times: 2560 } },

  // Every identity length 0..16 (input lengths 4..20: every tail length 0-3, several times).
  ...Array.from(
    { length: 17 },
    (_, n): VectorCase => ({
      name: `tail-length-${n}`,
      seed: 'len',
      identity: TAIL_ALPHABET.slice(0, n),
    }),
  ),
  // Multi-byte characters straddling the 4-byte block boundaries at every offset.
  ...Array.from(
    { length: 4 },
    (_, n): VectorCase => ({
      name: `straddle-offset-${n}`,
      seed: 'len',
      identity: `${'x'.repeat(n)}ü用😀`,
    }),
  ),
];

/** Hashes every case with the reference implementation. */
export function buildVectors(cases: readonly VectorCase[] = CASES): BucketingVector[] {
  return cases.map((c) => {
    const input = `${c.seed}:${identityOf(c)}`;
    const bytes = utf8(input);
    const hash = murmur3Reference(input);
    const base = { name: c.name, seed: c.seed };
    const what =
      c.repeat !== undefined
        ? { repeat: { unit: c.repeat.unit, times: c.repeat.times } }
        : { identity: c.identity!, input, inputUtf8Hex: Buffer.from(bytes).toString('hex') };
    return {
      ...base,
      ...what,
      utf8Length: bytes.length,
      hash,
      bucket: hash % 10_000,
      ...(c.note !== undefined ? { note: c.note } : {}),
    };
  });
}

export function buildVectorFile(): VectorFile {
  return {
    description:
      'Test vectors for canary-kit bucketing. See docs/bucketing.md. Any port must reproduce hash and bucket for every vector.',
    algorithm:
      'hash = MurmurHash3_x86_32(UTF-8 bytes of seed + ":" + identity, seed 0) as uint32; bucket = hash mod 10000; canary when bucket < percentage * 100',
    fields: {
      name: 'unique case name',
      seed: 'the flag seed (defaults to the flag key)',
      identity: 'the stickiness value (absent when repeat is given)',
      repeat:
        'for long identities: identity = unit repeated times times (e.g. "ab" x 5000 = 10000 characters)',
      input: 'seed + ":" + identity, the hashed string (absent when repeat is given)',
      inputUtf8Hex:
        'the exact bytes hashed, in hex; lone surrogates are encoded as U+FFFD (ef bf bd) like TextEncoder (absent when repeat is given)',
      utf8Length: 'number of bytes hashed',
      hash: 'MurmurHash3 x86_32, seed 0, unsigned',
      bucket: 'hash mod 10000',
      note: 'optional remark',
    },
    generatedBy:
      'packages/core/test/reference/generate-vectors.ts with the reference MurmurHash3 in packages/core/test/reference/murmur3-reference.ts',
    vectors: buildVectors(),
  };
}

/** The exact text of docs/bucketing-vectors.json (2-space JSON, trailing newline). */
export function renderVectorFile(): string {
  return `${JSON.stringify(buildVectorFile(), null, 2)}\n`;
}

/** Writes the vector file; `path` defaults to docs/bucketing-vectors.json under the working directory. */
export function writeVectorFile(path = resolve(process.cwd(), 'docs/bucketing-vectors.json')): string {
  writeFileSync(path, renderVectorFile());
  return path;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  const path = writeVectorFile(process.argv[2]);
  console.log(`wrote ${buildVectors().length} vectors to ${path}`);
}
