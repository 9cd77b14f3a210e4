// canary-kit's evaluation taken apart layer by layer, to see where the time goes. Not the published
// benchmark (that is run.mjs); a tool for working on the hot path. After a build of packages/core:
//
//   node --expose-gc bench/evaluator/profile.mjs                       every layer, interleaved rounds
//   node --expose-gc bench/evaluator/profile.mjs hash,evaluate         some layers
//   node bench/evaluator/profile.mjs evaluate /tmp/evaluate.cpuprofile  + a CPU profile of the timed rounds
//   perf record -g node --perf-basic-prof bench/evaluator/profile.mjs evaluate   (builtins show up by name)
//
// Layers: `bare` the inline murmur3 loop over the id with the `seed:` blocks mixed once (the floor);
// `hash` murmur3Resume alone; `plain` evaluate() of a percentage-only flag; `groupsOnly` plus one group;
// `evaluate` the benchmark's flag (percentage, one group, one rule). BENCH_N ids (default 300,000),
// ROUNDS rounds (default 9); min and median ns per call are printed.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createCanary, murmur3Prefix, murmur3Resume } from '../../packages/core/dist/index.js';

const N = Number(process.env.BENCH_N ?? 300_000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const only = process.argv[2];
const profileTo = process.argv[3];
const FLAG = 'checkout-v2';

const rawIds = [];
for (let i = 0; i < N; i++) {
  rawIds.push(i % 5 === 0 ? crypto.randomUUID() : `user-${(Math.random() * 1e8) | 0}@example.com`);
}
const ids = JSON.parse(JSON.stringify(rawIds)); // flat strings
const contexts = [];
for (let i = 0; i < N; i++) {
  const r = Math.random();
  contexts.push(
    r < 0.1
      ? { userId: ids[i], groups: [r < 0.01 ? 'beta' : 'staff'], attributes: { country: 'US', plan: 'free' } }
      : { userId: ids[i], attributes: { country: r < 0.11 ? 'NZ' : 'DE', plan: 'pro' } },
  );
}
const canary = createCanary({
  flags: {
    [FLAG]: {
      percentage: 10,
      groups: ['beta'],
      rules: [{ attribute: 'country', operator: 'in', values: ['NZ'] }],
    },
    plain: { percentage: 10, seed: FLAG },
    groupsOnly: { percentage: 10, seed: FLAG, groups: ['beta'] },
  },
});
await canary.ready();
const state = murmur3Prefix(`${FLAG}:`);
if (state.n !== 0) throw new Error('the bare layer needs a prefix of whole 4-byte blocks');

const parts = {
  bare: () => {
    let x = 0;
    for (let i = 0; i < N; i++) {
      const s = ids[i];
      const len = s.length;
      const blocks = len & ~3;
      let h = state.h;
      let j = 0;
      for (; j < blocks; j += 4) {
        let k =
          s.charCodeAt(j) |
          (s.charCodeAt(j + 1) << 8) |
          (s.charCodeAt(j + 2) << 16) |
          (s.charCodeAt(j + 3) << 24);
        k = Math.imul(k, 0xcc9e2d51);
        k = (k << 15) | (k >>> 17);
        h ^= Math.imul(k, 0x1b873593);
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      }
      let k = 0;
      const tail = len & 3;
      if (tail === 3) k ^= s.charCodeAt(j + 2) << 16;
      if (tail >= 2) k ^= s.charCodeAt(j + 1) << 8;
      if (tail >= 1) {
        k ^= s.charCodeAt(j);
        k = Math.imul(k, 0xcc9e2d51);
        k = (k << 15) | (k >>> 17);
        h ^= Math.imul(k, 0x1b873593);
      }
      h ^= state.length + len;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      x = (x + (h >>> 0)) | 0;
    }
    return x;
  },
  hash: () => {
    let x = 0;
    for (let i = 0; i < N; i++) x = (x + murmur3Resume(state, ids[i])) | 0;
    return x;
  },
  plain: () => {
    let x = 0;
    for (let i = 0; i < N; i++) if (canary.evaluate('plain', contexts[i]).version === 'canary') x++;
    return x;
  },
  groupsOnly: () => {
    let x = 0;
    for (let i = 0; i < N; i++) if (canary.evaluate('groupsOnly', contexts[i]).version === 'canary') x++;
    return x;
  },
  evaluate: () => {
    let x = 0;
    for (let i = 0; i < N; i++) if (canary.evaluate(FLAG, contexts[i]).version === 'canary') x++;
    return x;
  },
};

const selected = Object.entries(parts).filter(([name]) => !only || only.split(',').includes(name));
if (selected.length === 0)
  throw new Error(`no layer named ${only}; layers: ${Object.keys(parts).join(', ')}`);
const results = Object.fromEntries(selected.map(([name, fn]) => [name, fn()])); // warm-up
if (results.bare !== undefined && results.hash !== undefined && results.bare !== results.hash) {
  throw new Error('the bare loop and murmur3Resume disagree');
}

const session = profileTo ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const times = Object.fromEntries(selected.map(([name]) => [name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of selected) {
    if (!session) globalThis.gc?.();
    const t0 = process.hrtime.bigint();
    fn();
    times[name].push(Number(process.hrtime.bigint() - t0) / N);
  }
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(profileTo, JSON.stringify(profile));
  console.log(`CPU profile written to ${profileTo}`);
}
for (const [name, ts] of Object.entries(times)) {
  ts.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(10)} min ${ts[0].toFixed(1).padStart(6)}  median ${ts[ts.length >> 1].toFixed(1).padStart(6)} ns`,
  );
}
