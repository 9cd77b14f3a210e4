import { createCanary, type StickyCookieOptions } from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, cookiePairs, listen } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLAG = 'new-home';

/** A flag bucketing by userId, falling back to the sticky anonymous id. */
async function stickyApp(stickyCookie?: StickyCookieOptions | false) {
  const canary = cleanup.canary(
    createCanary({ flags: { [FLAG]: { percentage: 50, stickiness: ['userId', 'sessionId'] } } }),
  );
  const app = cleanup.app(Fastify());
  app.register(canaryPlugin, {
    canary,
    context: (request) => ({ userId: request.headers['x-user-id'] as string | undefined }),
    ...(stickyCookie === undefined ? {} : { stickyCookie }),
  });
  app.get('/home', { config: { canary: { flag: FLAG } } }, async (request) => request.canary.evaluate(FLAG));
  app.get('/with-own-cookie', async (request, reply) => {
    reply.header('set-cookie', 'theme=dark; Path=/');
    return { version: request.canary.evaluate(FLAG).version };
  });
  return { base: await listen(app), canary };
}

describe('sticky anonymous id cookie', () => {
  it('keeps an anonymous client on one version for 50 requests, and spreads clients over both', async () => {
    const { base } = await stickyApp();
    const versionsOfClients = new Set<string>();
    for (let client = 0; client < 30; client++) {
      const first = await fetch(`${base}/home`);
      const setCookies = first.headers.getSetCookie();
      expect(setCookies).toHaveLength(1);
      expect(setCookies[0]).toMatch(
        /^canary_sid=[A-Za-z0-9-]{36}; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/,
      );
      const decision = (await first.json()) as { version: string; reason: string };
      expect(decision.reason).toBe('percentage');
      const cookie = cookiePairs(first)[0]!;
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${base}/home`, { headers: { cookie: `other=1; ${cookie}` } });
        // Known client: no new cookie, same version.
        expect(res.headers.getSetCookie()).toEqual([]);
        expect(((await res.json()) as { version: string }).version).toBe(decision.version);
      }
      versionsOfClients.add(decision.version);
      if (versionsOfClients.size === 2 && client >= 1) break;
    }
    // 50 %: both versions among 30 anonymous clients, unless 2^-29 bad luck.
    expect([...versionsOfClients].sort()).toEqual(['canary', 'stable']);
  });

  it('issues no cookie to a request with an identity before sessionId in the stickiness list', async () => {
    const { base } = await stickyApp();
    const res = await fetch(`${base}/home`, { headers: { 'x-user-id': 'u-1' } });
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(((await res.json()) as { reason: string }).reason).toBe('percentage');
  });

  it('adds its cookie beside the ones the handler sets', async () => {
    const { base } = await stickyApp();
    const res = await fetch(`${base}/with-own-cookie`);
    expect(res.status).toBe(200);
    const pairs = cookiePairs(res);
    expect(pairs).toHaveLength(2);
    expect(pairs).toContain('theme=dark');
    expect(pairs.some((p) => /^canary_sid=[A-Za-z0-9-]{36}$/.test(p))).toBe(true);
  });

  it('can be renamed and given other attributes', async () => {
    const { base } = await stickyApp({ name: 'anon', maxAgeSeconds: 600, secure: true, path: '/' });
    const first = await fetch(`${base}/home`);
    const [setCookie] = first.headers.getSetCookie();
    expect(setCookie).toMatch(
      /^anon=[A-Za-z0-9-]{36}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
    );
    const { version } = (await first.json()) as { version: string };
    const cookie = cookiePairs(first)[0]!;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${base}/home`, { headers: { cookie } });
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(((await res.json()) as { version: string }).version).toBe(version);
    }
    // The default name means nothing now.
    const other = await fetch(`${base}/home`, { headers: { cookie: 'canary_sid=abcdefgh12345678' } });
    expect(cookiePairs(other)[0]).toMatch(/^anon=/);
  });

  it('marks the cookie Secure behind a trusted TLS-terminating proxy (secure: auto)', async () => {
    const canary = cleanup.canary(
      createCanary({ flags: { [FLAG]: { percentage: 50, stickiness: ['userId', 'sessionId'] } } }),
    );
    const app = cleanup.app(Fastify({ trustProxy: '127.0.0.1' }));
    app.register(canaryPlugin, { canary });
    app.get('/home', async (request) => request.canary.evaluate(FLAG).reason);
    const base = await listen(app);
    const viaTls = await fetch(`${base}/home`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(viaTls.headers.getSetCookie()[0]).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    const plain = await fetch(`${base}/home`);
    expect(plain.headers.getSetCookie()[0]).toMatch(/; HttpOnly; SameSite=Lax$/);
  });

  it('replaces a malformed id instead of trusting it', async () => {
    const { base } = await stickyApp();
    const res = await fetch(`${base}/home`, { headers: { cookie: 'canary_sid=<script>' } });
    expect(res.status).toBe(200);
    expect(cookiePairs(res)[0]).toMatch(/^canary_sid=[A-Za-z0-9-]{36}$/);
  });

  it('can be turned off: no cookie, and anonymous requests have no identity (stable)', async () => {
    const { base, canary } = await stickyApp(false);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/home`);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(await res.json()).toEqual({
        flag: FLAG,
        version: 'stable',
        reason: 'no-identity',
        bucket: null,
      });
    }
    expect(canary.stats().contextErrors).toBe(0);
  });
});
