/**
 * `bucketing: 'unleash'` must give every identity the same decision unleash-client gives it, so a team moving
 * off Unleash keeps every user's assignment. Checked against the real unleash-client package (v6): its
 * `normalizedStrategyValue`, its `FlexibleRolloutStrategy`, and a real offline `Unleash` client bootstrapped
 * with toggles (no network: no URL fetch, no metrics).
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import {
  type Canary,
  createCanary,
  murmur3,
  murmur3CharCodes,
  unleashNormalizedValue,
} from '@canary-kit/core';
import { type ClientFeaturesResponse, InMemStorageProvider, Unleash } from 'unleash-client';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { afterAll, describe, expect, it } from 'vitest';

// unleash-client is CommonJS: lib/strategy/flexible-rollout-strategy.js sets `exports.default = class`. An ESM
// default import yields `module.exports` under Node but the class under vitest's interop, so require it.
const { default: FlexibleRolloutStrategy } = createRequire(import.meta.url)(
  'unleash-client/lib/strategy/flexible-rollout-strategy.js',
) as typeof import('unleash-client/lib/strategy/flexible-rollout-strategy.js');

const PERCENTAGES = [0, 1, 5, 10, 25, 33, 50, 99, 100, 12.5] as const;

/** mulberry32: a tiny deterministic PRNG, so the ids are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters for non-ASCII ids: Latin-1, Latin Extended, Greek, Cyrillic, CJK, Hangul, RTL, emoji, marks. */
const NON_ASCII = [
  ...'éüßÿñøåçÀÉÍÓÚ©®°µ¶',
  ...'ŁłŒœŠšŽžđ',
  ...'αβγδΩ',
  ...'дежзий',
  ...'用户名字测试漢字ユーザー',
  ...'사용자',
  ...'مستخدمמשתמש',
  '😀',
  '👍🏽',
  '🇫🇷',
  '👩‍💻',
  '𠀀',
  'e\u0301',
  '\u200f',
  '\u00a0',
  '\ufffd',
  '\ud800', // lone surrogates: unleash hashes their low byte like any other code unit
  '\udfff',
];
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+:';

/** 10,000+ distinct ids: half ASCII (several shapes), half with non-ASCII characters. */
function makeIds(): string[] {
  const random = prng(20_240_611);
  const pick = <T>(list: readonly T[] | string): T | string => list[Math.floor(random() * list.length)]!;
  const ids = new Set<string>();
  for (let i = 0; ids.size < 1_000; i++) ids.add(`user-${i}`);
  for (let i = 0; ids.size < 2_000; i++) ids.add(String(1_000_000 + i * 7919));
  while (ids.size < 3_000) {
    const hex = () =>
      Math.floor(random() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    ids.add(`${hex()}-${hex().slice(0, 4)}-${hex().slice(0, 4)}-${hex()}${hex().slice(0, 4)}`);
  }
  while (ids.size < 5_000) {
    const length = 1 + Math.floor(random() * 24);
    let id = '';
    for (let j = 0; j < length; j++) id += pick(ASCII);
    ids.add(random() < 0.3 ? `${id}@example.com` : id);
  }
  while (ids.size < 10_500) {
    const length = 1 + Math.floor(random() * 16);
    let id = '';
    for (let j = 0; j < length; j++) id += random() < 0.5 ? pick(NON_ASCII) : pick(ASCII);
    ids.add(id);
  }
  return [...ids];
}

const IDS = makeIds();
const isAscii = (s: string) => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};
const NON_ASCII_IDS = IDS.filter((id) => !isAscii(id));

/** canary-kit flag key → unleash groupId (canary-kit's seed; the flag key when no seed is set). */
const FLAGS: readonly { key: string; seed?: string; groupId: string }[] = [
  { key: 'checkout-v2', groupId: 'checkout-v2' },
  { key: 'new_search.v2', groupId: 'new_search.v2' },
  { key: 'x', groupId: 'x' },
  { key: 'renamed-flag', seed: 'legacy-unleash-toggle', groupId: 'legacy-unleash-toggle' },
  { key: 'unicode-group', seed: 'größe-用户', groupId: 'größe-用户' },
];

const canaries: Canary[] = [];
afterAll(async () => {
  await Promise.all(canaries.map((c) => c.close()));
});

/** One Canary per percentage, holding every flag of FLAGS with `bucketing: 'unleash'`. */
const canaryAt = new Map(
  PERCENTAGES.map((p) => {
    const canary = createCanary({
      flags: Object.fromEntries(
        FLAGS.map((f) => [
          f.key,
          { percentage: p, bucketing: 'unleash' as const, ...(f.seed ? { seed: f.seed } : {}) },
        ]),
      ),
    });
    canaries.push(canary);
    return [p, canary] as const;
  }),
);

describe('unleash bucketing vs unleash-client', () => {
  it('uses 10,000+ distinct ids, ASCII and non-ASCII', () => {
    expect(IDS.length).toBeGreaterThanOrEqual(10_000);
    expect(new Set(IDS).size).toBe(IDS.length);
    expect(NON_ASCII_IDS.length).toBeGreaterThanOrEqual(5_000);
    expect(IDS.length - NON_ASCII_IDS.length).toBeGreaterThanOrEqual(5_000);
  });

  it("normalized value equals unleash-client's normalizedStrategyValue for every id and group", () => {
    for (const { groupId } of FLAGS) {
      for (const id of IDS) {
        const expected = normalizedStrategyValue(id, groupId);
        const got = unleashNormalizedValue(groupId, id);
        if (got !== expected) expect({ groupId, id, got }).toEqual({ groupId, id, got: expected });
      }
    }
  });

  it("decision equals unleash-client's FlexibleRolloutStrategy at 0, 1, 5, 10, 25, 33, 50, 99, 100 (and 12.5) %", () => {
    const strategy = new FlexibleRolloutStrategy();
    let compared = 0;
    for (const p of PERCENTAGES) {
      const canary = canaryAt.get(p)!;
      let enabledCount = 0;
      for (const { key, groupId } of FLAGS) {
        for (const id of IDS) {
          const unleashEnabled = strategy.isEnabled(
            { rollout: p, stickiness: 'userId', groupId },
            { userId: id },
          );
          const decision = canary.evaluate(key, { userId: id });
          const canaryKitEnabled = decision.version === 'canary';
          const expectedBucket = normalizedStrategyValue(id, groupId);
          if (
            canaryKitEnabled !== unleashEnabled ||
            decision.bucket !== expectedBucket ||
            decision.reason !== 'percentage'
          ) {
            const got = {
              key,
              groupId,
              id,
              p,
              enabled: canaryKitEnabled,
              bucket: decision.bucket,
              reason: decision.reason,
            };
            expect(got).toEqual({
              ...got,
              enabled: unleashEnabled,
              bucket: expectedBucket,
              reason: 'percentage',
            });
          }
          if (unleashEnabled) enabledCount++;
          compared++;
        }
      }
      // Not vacuous: the rollouts split the ids roughly as asked.
      const share = enabledCount / (FLAGS.length * IDS.length);
      expect(share).toBeGreaterThanOrEqual(p / 100 - 0.02);
      expect(share).toBeLessThanOrEqual(p / 100 + 0.02);
    }
    expect(compared).toBe(PERCENTAGES.length * FLAGS.length * IDS.length);
  });

  it('the rollout also accepts the string percentages the Unleash API sends', () => {
    const strategy = new FlexibleRolloutStrategy();
    const canary = canaryAt.get(33)!;
    for (const id of IDS.slice(0, 2_000)) {
      expect(canary.isCanary('checkout-v2', { userId: id })).toBe(
        strategy.isEnabled({ rollout: '33', stickiness: 'userId', groupId: 'checkout-v2' }, { userId: id }),
      );
    }
  });

  it('hashes the low byte of each UTF-16 code unit, not UTF-8 (as unleash-client does)', () => {
    // U+0041 'A' and U+0141 'Ł' share their low byte 0x41: same unleash bucket.
    expect(normalizedStrategyValue('A', 'checkout-v2')).toBe(
      normalizedStrategyValue('\u0141', 'checkout-v2'),
    );
    expect(canaryAt.get(50)!.evaluate('checkout-v2', { userId: '\u0141' }).bucket).toBe(
      normalizedStrategyValue('A', 'checkout-v2'),
    );
    // And it is not the UTF-8 MurmurHash3 of the published algorithm.
    expect(murmur3CharCodes('checkout-v2:用户')).not.toBe(murmur3('checkout-v2:用户'));
    // On ASCII both hashes agree (the UTF-8 bytes are the char codes).
    expect(murmur3CharCodes('checkout-v2:user-1')).toBe(murmur3('checkout-v2:user-1'));
  });

  it('0 % enables nobody and 100 % everybody, as in unleash-client', () => {
    const strategy = new FlexibleRolloutStrategy();
    for (const id of NON_ASCII_IDS.slice(0, 1_000)) {
      expect(canaryAt.get(0)!.isCanary('checkout-v2', { userId: id })).toBe(false);
      expect(
        strategy.isEnabled({ rollout: 0, stickiness: 'userId', groupId: 'checkout-v2' }, { userId: id }),
      ).toBe(false);
      expect(canaryAt.get(100)!.isCanary('checkout-v2', { userId: id })).toBe(true);
      expect(
        strategy.isEnabled({ rollout: 100, stickiness: 'userId', groupId: 'checkout-v2' }, { userId: id }),
      ).toBe(true);
    }
  });
});

describe('unleash bucketing vs a real offline Unleash client', () => {
  it('isEnabled of bootstrapped flexibleRollout toggles equals canary-kit for every id', async () => {
    // One toggle per percentage, named like the canary-kit flag; groupId = toggle name, as the Unleash UI sets
    // it. Plus a toggle whose groupId is not its name, matched by a canary-kit flag with that `seed`.
    const toggles = [
      ...PERCENTAGES.map((p) => ({ name: `rollout-${String(p).replace('.', '_')}`, groupId: '', p })),
      { name: 'legacy-checkout', groupId: 'checkout', p: 40 },
    ].map((t) => ({ ...t, groupId: t.groupId || t.name }));

    const canary = createCanary({
      flags: Object.fromEntries(
        toggles.map((t) => [
          t.name,
          {
            percentage: t.p,
            bucketing: 'unleash' as const,
            ...(t.groupId !== t.name ? { seed: t.groupId } : {}),
          },
        ]),
      ),
    });
    canaries.push(canary);

    const unleash = new Unleash({
      appName: 'canary-kit-unleash-compat',
      // Never contacted: refreshInterval 0 disables fetching, metrics are off, and the features come from
      // `bootstrap` into an in-memory store (no backup file is written either).
      url: 'http://127.0.0.1:9/api/',
      refreshInterval: 0,
      disableMetrics: true,
      disableAutoStart: true,
      skipInstanceCountWarning: true,
      storageProvider: new InMemStorageProvider<ClientFeaturesResponse>(),
      bootstrap: {
        data: toggles.map((t) => ({
          name: t.name,
          enabled: true,
          strategies: [
            {
              name: 'flexibleRollout',
              parameters: { rollout: String(t.p), stickiness: 'userId', groupId: t.groupId },
              constraints: [],
            },
          ],
        })),
      },
    });
    const errors: unknown[] = [];
    unleash.on('error', (error: unknown) => errors.push(error));
    try {
      const ready = once(unleash, 'ready');
      await unleash.start();
      await ready;
      expect(unleash.getFeatureToggleDefinitions().map((t) => t.name)).toEqual(toggles.map((t) => t.name));

      let enabled = 0;
      for (const t of toggles) {
        for (const id of IDS) {
          const fromUnleash = unleash.isEnabled(t.name, { userId: id });
          const decision = canary.evaluate(t.name, { userId: id });
          if ((decision.version === 'canary') !== fromUnleash) {
            expect({ toggle: t.name, id, canary: decision.version === 'canary' }).toEqual({
              toggle: t.name,
              id,
              canary: fromUnleash,
            });
          }
          if (fromUnleash) enabled++;
        }
      }
      expect(enabled).toBeGreaterThan(0);
      expect(enabled).toBeLessThan(toggles.length * IDS.length);
      // A toggle Unleash does not know falls back to false; canary-kit serves stable for an unknown flag.
      expect(unleash.isEnabled('no-such-toggle', { userId: 'user-1' })).toBe(false);
      expect(canary.evaluate('no-such-toggle', { userId: 'user-1' }).version).toBe('stable');
      expect(errors).toEqual([]);
    } finally {
      unleash.destroy();
    }
  });
});
