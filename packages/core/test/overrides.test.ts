import { createCanary, type EvalContext, signOverride } from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';

const SECRET = 'a-test-secret-of-32-characters!!';
const canaries: { close(): Promise<void> }[] = [];
function make(config: Parameters<typeof createCanary>[0]) {
  const canary = createCanary(config);
  canaries.push(canary);
  return canary;
}
afterEach(async () => {
  await Promise.all(canaries.splice(0).map((c) => c.close()));
});

const flags = { checkout: { percentage: 0 }, search: { percentage: 100 } };
const ctx = (header?: string, cookie?: string, extra: EvalContext = {}): EvalContext => ({
  userId: 'u',
  ...extra,
  overrides: { header, cookie },
});

describe('overrides', () => {
  it('are off by default: the header is ignored and nothing is counted', () => {
    const canary = make({ flags });
    expect(canary.evaluate('checkout', ctx('always')).reason).toBe('percentage');
    expect(canary.overrideSources).toBeUndefined();
  });

  it('a trusted caller forces a version globally or per flag', () => {
    const canary = make({ flags, overrides: { trust: (c) => c.ip === '10.0.0.1' } });
    const trusted = { ip: '10.0.0.1' };
    expect(canary.evaluate('checkout', ctx('always', undefined, trusted))).toMatchObject({
      version: 'canary',
      reason: 'override',
    });
    expect(canary.evaluate('search', ctx('checkout=always, search=never', undefined, trusted))).toMatchObject(
      {
        version: 'stable',
        reason: 'override',
      },
    );
    // a per-flag entry beats the global one
    expect(canary.evaluate('checkout', ctx('never,checkout=always', undefined, trusted)).version).toBe(
      'canary',
    );
    // another flag's entry does not apply
    expect(canary.evaluate('search', ctx('checkout=never', undefined, trusted)).reason).toBe('percentage');
  });

  it('header beats cookie, cookie beats targeting', () => {
    const canary = make({ flags, overrides: { trust: () => true } });
    expect(canary.evaluate('checkout', ctx('never', 'always')).version).toBe('stable');
    expect(canary.evaluate('checkout', ctx(undefined, 'always')).version).toBe('canary');
    expect(canary.evaluate('checkout', ctx(undefined, 'checkout%3Dalways')).version).toBe('canary');
  });

  it('an untrusted override is ignored and counted; trust is asked once per request', () => {
    let asked = 0;
    const canary = make({
      flags,
      overrides: {
        trust: () => {
          asked++;
          return false;
        },
      },
    });
    const request = canary.forContext(ctx('always', 'always'));
    expect(request.evaluate('checkout').reason).toBe('percentage');
    expect(request.evaluate('search').reason).toBe('percentage');
    expect(asked).toBe(1);
    expect(canary.stats().overrides.header.untrusted).toBe(1);
    expect(canary.stats().overrides.cookie.untrusted).toBe(1);
  });

  it('a valid signature is honoured from anyone until it expires', () => {
    const canary = make({ flags, overrides: { secret: SECRET } });
    const value = signOverride({ overrides: { checkout: 'always' }, secret: SECRET, expiresInSeconds: 60 });
    expect(canary.evaluate('checkout', ctx(value))).toMatchObject({ version: 'canary', reason: 'override' });
    const expired = signOverride({ overrides: 'always', secret: SECRET, now: () => Date.now() - 7200_000 });
    expect(canary.evaluate('checkout', ctx(expired)).reason).toBe('percentage');
    expect(canary.stats().overrides.header).toMatchObject({ honoured: 1, expired: 1 });
  });

  it('a tampered or foreign signature is rejected and counted', () => {
    const canary = make({ flags, overrides: { secret: [SECRET, 'the-previous-secret-rotated-out'] } });
    const value = signOverride({ overrides: { checkout: 'always' }, secret: SECRET });
    const tampered = value.replace('checkout=always', 'search=never');
    expect(canary.evaluate('search', ctx(tampered)).reason).toBe('percentage');
    const foreign = signOverride({ overrides: 'always', secret: 'somebody-elses-secret-value' });
    expect(canary.evaluate('checkout', ctx(foreign)).reason).toBe('percentage');
    // any configured secret verifies (rotation)
    const old = signOverride({ overrides: 'always', secret: 'the-previous-secret-rotated-out' });
    expect(canary.evaluate('checkout', ctx(old)).reason).toBe('override');
    expect(canary.stats().overrides.header['bad-signature']).toBe(2);
  });

  it.each([
    '',
    'sometimes',
    'checkout=maybe',
    '=always',
    'x'.repeat(5000),
    'always,exp=123',
    'always,exp=99999999999,sig=short',
  ])('a malformed value %j is counted as invalid and skipped', (value) => {
    const canary = make({ flags, overrides: { trust: () => true } });
    expect(canary.evaluate('checkout', ctx(value)).reason).toBe('percentage');
    expect(canary.stats().overrides.header.invalid).toBe(1);
  });

  it('a throwing trust function means untrusted, reported as an error', () => {
    const canary = make({
      flags,
      overrides: {
        trust: () => {
          throw new Error('boom');
        },
      },
    });
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    expect(canary.evaluate('checkout', ctx('always')).reason).toBe('percentage');
    expect(errors).toHaveLength(1);
  });

  it('header and cookie names are configurable or can be turned off', () => {
    const canary = make({
      flags,
      overrides: { trust: () => true, header: 'X-Force-Version', cookie: false },
    });
    expect(canary.overrideSources).toEqual({ header: 'x-force-version', cookie: false });
    expect(canary.evaluate('checkout', ctx(undefined, 'always')).reason).toBe('percentage');
  });

  it('signOverride refuses bad input', () => {
    expect(() => signOverride({ overrides: 'always', secret: 'short' })).toThrow(/16 characters/);
    expect(() => signOverride({ overrides: { 'bad key!': 'always' }, secret: SECRET })).toThrow(
      /not an override item/,
    );
  });
});
