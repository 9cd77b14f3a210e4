// Decides many identities for a few flags and prints the decisions as JSON.
//
//   node decide-child.mjs <seed> <count>
//
// Run as a script it loads the BUILT package (packages/core/dist/index.js), so two such processes show that
// decisions depend on nothing but the config and the identity (no per-process state, no randomness).
// determinism.test.ts also imports `makeIds` / `decideAll` from here and runs them against the sources, so
// both sides generate the very same identities and encode decisions the same way.

import { realpathSync } from 'node:fs';
import { argv, pid, stdout } from 'node:process';
import { fileURLToPath } from 'node:url';

/** Flags with different percentages, seeds, stickiness keys and both bucketings. */
export const FLAGS = {
  'one-percent': { percentage: 1 },
  third: { percentage: 33.33, seed: 'shared-seed' },
  'half-by-session': { percentage: 50, stickiness: 'sessionId' },
  'almost-all': { percentage: 99.99 },
  'unleash-25': { percentage: 25, bucketing: 'unleash' },
  'unleash-12.5-by-account': {
    percentage: 12.5,
    bucketing: 'unleash',
    seed: 'unleash-group',
    stickiness: ['missing', 'accountId'],
  },
};

/** FNV-1a of a string's code units: turns the argv seed into a PRNG seed. */
function hashSeed(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a tiny deterministic PRNG in [0, 1). */
function prng(seed) {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Non-ASCII pieces: 2-, 3- and 4-byte UTF-8, combining marks, ZWJ sequences, flags, RTL scripts, NUL,
// and lone surrogates (which murmur3 encodes as U+FFFD and unleash hashes by their low byte).
const PIECES = [
  'é',
  'ß',
  'ñ',
  'ж',
  'Ω',
  '中',
  '文',
  '日本',
  '한국어',
  'العربية',
  'עברית',
  'ไทย',
  '😀',
  '👩‍💻',
  '🇫🇷',
  'e\u0301',
  '\u200d',
  '\ud800',
  '\udfff',
  '\u0000',
  ' ',
  '%',
  ':',
  'A',
  'z',
  '7',
];

/** `count` identities from `seed`; about half contain non-ASCII characters. Same input, same list. */
export function makeIds(seed, count) {
  const random = prng(hashSeed(String(seed)));
  const int = (n) => Math.floor(random() * n);
  const ids = new Array(count);
  for (let i = 0; i < count; i++) {
    switch (int(6)) {
      case 0:
        ids[i] = `user-${i}`;
        break;
      case 1: {
        let hex = '';
        for (let j = 0; j < 32; j++) hex += int(16).toString(16);
        ids[i] =
          `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        break;
      }
      case 2:
      case 3: {
        let id = '';
        const n = 1 + int(8);
        for (let j = 0; j < n; j++) id += PIECES[int(PIECES.length)];
        ids[i] = id;
        break;
      }
      case 4: {
        let id = '';
        const n = 1 + int(12);
        for (let j = 0; j < n; j++) id += String.fromCharCode(int(0x10000));
        ids[i] = id;
        break;
      }
      default:
        ids[i] = `${int(1000)}.名前.${i}@例え.jp`;
    }
  }
  return ids;
}

/** One decision as a short string: version, bucket, and the reason unless it is `percentage`. */
function encode(decision) {
  const version = decision.version === 'canary' ? 'C' : 'S';
  const reason = decision.reason === 'percentage' ? '' : `:${decision.reason}`;
  return `${version}${decision.bucket ?? ''}${reason}`;
}

/**
 * Evaluates every flag of FLAGS for every identity with the given `createCanary`; returns, per flag, the
 * decisions joined with `,` (index i is ids[i]).
 */
export function decideAll(createCanary, seed, count) {
  const canary = createCanary({ flags: FLAGS });
  const ids = makeIds(seed, count);
  const out = {};
  for (const flag of Object.keys(FLAGS)) {
    const decisions = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      decisions[i] = encode(
        canary.evaluate(flag, { userId: id, sessionId: `session:${id}`, attributes: { accountId: id } }),
      );
    }
    out[flag] = decisions.join(',');
  }
  return out;
}

if (argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(argv[1])) {
  const seed = argv[2] ?? 'default-seed';
  const count = Number(argv[3] ?? 100_000);
  const { createCanary } = await import(new URL('../../dist/index.js', import.meta.url).href);
  stdout.write(JSON.stringify({ pid, decisions: decideAll(createCanary, seed, count) }));
}
