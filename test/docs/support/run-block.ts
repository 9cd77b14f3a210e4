import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Canary, createCanary, signOverride } from '@canary-kit/core';
import { expect } from 'vitest';
import { type RedisServer, startRedisServer, stopRedisServer } from '../../helpers/redis-server.js';
import type { CodeBlock } from './markdown.js';
import { ROOT } from './markdown.js';
import { buildModule, type EnvName } from './modules.js';
import {
  closeServer,
  type FakeService,
  fakeService,
  INTERNAL_URL,
  interceptDocPort,
  REDIS_URL,
  takeListened,
  urlOf,
} from './servers.js';
import { DOC_OVERRIDE_SECRET, docFlags } from './stand-ins.js';

/**
 * Runs a code block of type ts/js in its environment (`<!-- test: express … -->`), then the checks written
 * after the environment name, one per line or separated by `;`:
 *
 *     GET /checkout x-user-id:u-1 -> 200 ~oldCheckout   a request, its status, optionally a body substring
 *     split checkout-v2 GET /checkout                   200 users: each one's answer comes from the handler
 *                                                       of the version canary.evaluate gives that user, and
 *                                                       both versions serve
 *     seen search-v2.internal GET /api/search/x          the stand-in service got that request (polled)
 *     metrics /metrics                                  the route serves a version-labelled exposition
 *
 * With no check at all, the block must still leave a working Canary or app behind (its config passed the real
 * validator). Requests go to the server the block started (`listen(3000)` is moved to a free port), or to its
 * exported `app`, started by the harness.
 */

const requireFromNest = createRequire(join(ROOT, 'packages/nestjs/package.json'));
const requireFromRoot = createRequire(join(ROOT, 'package.json'));

interface Context {
  url: string;
  canary: Canary | undefined;
  services: Map<string, FakeService>;
  /** Where the block's relative data files (`./recordings/requests.jsonl`) went. */
  scratch: string;
  /** The block's top-level names. */
  mod: Record<string, unknown>;
}

export async function runCodeBlock(block: CodeBlock, env: EnvName, args: string): Promise<void> {
  interceptDocPort();
  const services = new Map<string, FakeService>();
  for (const m of block.code.matchAll(INTERNAL_URL)) {
    const host = m[1]!;
    if (!services.has(host)) services.set(host, await fakeService(host));
  }
  const urls = new Map([...services].map(([host, s]) => [host, s.url]));
  // `redis://<name>.internal:6379` in a block (a fleet's shared store): a real redis-server of its own.
  const redisHosts = new Set([...block.code.matchAll(REDIS_URL)].map((m) => m[1]!));
  const redisServers: RedisServer[] = [];
  for (const host of redisHosts) {
    const server = await startRedisServer();
    redisServers.push(server);
    urls.set(host, server.url);
  }
  const id = `${block.file.replace(/\W+/g, '-')}-${block.line}`;
  const scratch = mkdtempSync(join(tmpdir(), 'canary-docs-'));
  const built = await buildModule(env, block.code, block.lang, urls, id, scratch);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(/* @vite-ignore */ built.file)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(
        `${block.where}: the block failed to run: ${(error as Error)?.stack ?? error}\n--- generated module ---\n${built.source}`,
      );
    }
    const listened = await takeListened();
    for (const s of listened) cleanups.push(() => closeServer(s));
    const { url, canary, close } = await serve(env, mod, listened);
    if (close) cleanups.push(close);
    // Whatever else the block made that can be closed (a leader lease, a store), closed after its Canary.
    for (const [name, value] of Object.entries(mod)) {
      const closable = value as { close?: () => Promise<unknown> } | null;
      if (name !== 'app' && !(value instanceof Canary) && typeof closable?.close === 'function')
        cleanups.push(async () => closable.close!());
    }
    if (mod.canary instanceof Canary) cleanups.push(() => (mod.canary as Canary).close());
    const checks = args
      .split(/;|\n/)
      .map((c) => c.trim())
      .filter(Boolean);
    if (checks.length === 0) {
      expect(canary ?? url, `${block.where}: the block left neither a Canary nor an app`).toBeTruthy();
    }
    const ctx: Context = { url: url ?? '', canary, services, scratch, mod };
    for (const check of checks) await runCheck(block.where, check, ctx);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    for (const s of services.values()) await s.close();
    rmSync(scratch, { recursive: true, force: true });
    for (const r of redisServers) await stopRedisServer(r);
  }
}

/** The base URL to send requests to, and the Canary serving them. */
async function serve(
  env: EnvName,
  mod: Record<string, unknown>,
  listened: net.Server[],
): Promise<{ url?: string; canary?: Canary; close?: () => Promise<unknown> }> {
  const canaryOf = (app: unknown): Canary | undefined => {
    if (mod.canary instanceof Canary) return mod.canary;
    try {
      return (app as { get(token: unknown): Canary } | undefined)?.get(Canary);
    } catch {
      return undefined;
    }
  };
  if (env === 'nest') {
    let app = mod.app as { getHttpServer(): net.Server; close(): Promise<void> } | undefined;
    let close: (() => Promise<unknown>) | undefined;
    if (!app) {
      const root = await nestRootModule(mod);
      if (!root) return { canary: canaryOf(undefined) };
      const { NestFactory } = requireFromNest('@nestjs/core') as {
        NestFactory: {
          create(
            m: unknown,
            o: object,
          ): Promise<NonNullable<typeof app> & { listen(p: number, h: string): Promise<unknown> }>;
        };
      };
      const created = await NestFactory.create(root, { logger: false, rawBody: true, abortOnError: false });
      await created.listen(0, '127.0.0.1');
      app = created;
      close = () => created.close();
    }
    let server = listened[0] ?? app.getHttpServer();
    if (!server.listening) {
      // The block created the application and left starting it to main.ts: start it here.
      const started = app as typeof app & { listen(p: number, h: string): Promise<unknown> };
      await started.listen(0, '127.0.0.1');
      server = started.getHttpServer();
      close = () => started.close();
    }
    return { url: urlOf(server), canary: canaryOf(app), close };
  }
  if (listened[0]) return { url: urlOf(listened[0]), canary: canaryOf(undefined) };
  const app = mod.app as
    | { listen: (...a: unknown[]) => unknown; close?: () => Promise<unknown>; server?: net.Server }
    | undefined;
  if (!app) return { canary: canaryOf(undefined) };
  if (env === 'fastify') {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: urlOf(app.server!), canary: canaryOf(undefined), close: () => app.close!() };
  }
  const server = app.listen(0, '127.0.0.1') as net.Server;
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: urlOf(server), canary: canaryOf(undefined), close: () => closeServer(server) };
}

/** The block's AppModule, or a module made of its controllers and CanaryModule.forRoot. */
async function nestRootModule(mod: Record<string, unknown>): Promise<unknown> {
  const classes = Object.values(mod).filter((v): v is new () => unknown => typeof v === 'function');
  const isModule = (c: unknown) => Reflect.getMetadataKeys(c as object).includes('imports');
  const root = classes.find((c) => c.name === 'AppModule') ?? classes.find(isModule);
  if (root) return root;
  const controllers = classes.filter((c) => Reflect.getMetadata('path', c) !== undefined);
  const providers = classes.filter((c) => Reflect.getMetadata('__injectable__', c) === true);
  if (controllers.length === 0) return undefined;
  const { Module } = requireFromNest('@nestjs/common') as { Module: (m: object) => ClassDecorator };
  const { CanaryModule } = await import('@canary-kit/nestjs');
  const { docFlags } = await import('./stand-ins.js');
  class DocModule {}
  Module({
    imports: [
      CanaryModule.forRoot({
        config: { flags: docFlags() },
        context: (req) => ({ userId: req.headers['x-user-id'] as string | undefined }),
      }),
    ],
    controllers,
    providers,
  })(DocModule);
  return DocModule;
}

const CANARY_HANDLER = /new|v2|canary|service:/i;

async function runCheck(where: string, check: string, ctx: Context): Promise<void> {
  const label = `${where}: ${check}`;
  let m = /^split\s+(\S+)\s+([A-Z]+)\s+(\S+)$/.exec(check);
  if (m) {
    const [, flag, method, path] = m as unknown as [string, string, string, string];
    expect(ctx.canary, `${label}: no Canary to ask`).toBeDefined();
    const served = { stable: 0, canary: 0 };
    for (let i = 0; i < 200; i++) {
      const userId = `doc-user-${i}`;
      const res = await fetch(ctx.url + path, { method, headers: { 'x-user-id': userId } });
      expect(res.status, `${label}: status for ${userId}`).toBe(200);
      const body = (await res.json()) as { handler?: string; from?: string; version?: string };
      const answer = body.handler ?? body.from ?? body.version ?? '';
      const version = ctx.canary!.evaluate(flag, { userId }).version;
      expect(CANARY_HANDLER.test(answer) ? 'canary' : 'stable', `${label}: ${userId} got ${answer}`).toBe(
        version,
      );
      served[version]++;
    }
    expect(served.stable, `${label}: stable served`).toBeGreaterThan(0);
    expect(served.canary, `${label}: canary served`).toBeGreaterThan(0);
    return;
  }
  m = /^evaluate\s+(\S+)\s+(\S+)\s*->\s*(stable|canary)\s+(\S+)(?:\s+(\d+))?$/.exec(check);
  if (m) {
    const [, flag, userId, version, reason, bucket] = m as unknown as string[];
    expect(ctx.canary, `${label}: no Canary to ask`).toBeDefined();
    const decision = ctx.canary!.evaluate(flag!, { userId });
    expect(decision, label).toMatchObject({
      flag,
      version,
      reason,
      ...(bucket && { bucket: Number(bucket) }),
    });
    return;
  }
  m = /^same-as-unleash\s+(\S+)\s+(\S+)\s+(\S+)$/.exec(check);
  if (m) {
    // unleash-client's own flexibleRollout strategy, default stickiness: userId, else sessionId.
    const [, flag, rollout, groupId] = m as unknown as string[];
    const { default: FlexibleRollout } = requireFromRoot(
      'unleash-client/lib/strategy/flexible-rollout-strategy.js',
    ) as {
      default: new () => { isEnabled(p: object, c: object): boolean };
    };
    const strategy = new FlexibleRollout();
    expect(ctx.canary, `${label}: no Canary to ask`).toBeDefined();
    let enabled = 0;
    for (let i = 0; i < 3000; i++) {
      const context =
        i % 3 === 0 ? { sessionId: `session-${i}` } : { userId: `user-${i}`, sessionId: `s-${i}` };
      const unleash = strategy.isEnabled({ rollout, stickiness: 'default', groupId }, context);
      const ours = ctx.canary!.isCanary(flag!, context);
      if (ours !== unleash) expect({ context, canary: ours }, label).toEqual({ context, canary: unleash });
      if (unleash) enabled++;
    }
    expect(enabled, `${label}: both answers occur`).toBeGreaterThan(0);
    expect(enabled, `${label}: both answers occur`).toBeLessThan(3000);
    return;
  }
  m = /^recorded\s+([A-Z]+)\s+(\S+)$/.exec(check);
  if (m) {
    // The recorder wrote a JSONL v1 record of that request (the writer is asynchronous: poll).
    const [, method, url] = m as unknown as string[];
    const records = () =>
      readdirSync(ctx.scratch)
        .flatMap((f) => readFileSync(join(ctx.scratch, f), 'utf8').split('\n'))
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { v: number; method: string; url: string });
    await expect
      .poll(() => records().some((r) => r.v === 1 && r.method === method && r.url === url), {
        timeout: 10_000,
      })
      .toBe(true);
    return;
  }
  m = /^override\s+(\w+)\s+(\S+)\s*->\s*(stable|canary)$/.exec(check);
  if (m) {
    // The block's value, sent as the override header, is honoured by a Canary holding the secret.
    const [, name, flag, version] = m as unknown as string[];
    const value = ctx.mod[name!];
    expect(typeof value, `${label}: the block has no string ${name}`).toBe('string');
    const judge = createCanary({ flags: docFlags(), overrides: { secret: DOC_OVERRIDE_SECRET } });
    try {
      const decision = judge.evaluate(flag!, { userId: 'u-0', overrides: { header: value as string } });
      expect(decision, label).toMatchObject({ version, reason: 'override' });
    } finally {
      await judge.close();
    }
    return;
  }
  m = /^unseen\s+(\S+)\s+([A-Z]+)\s+(\S+)$/.exec(check);
  if (m) {
    // Run after a `seen` of a later request: copies are sent as responses finish, so this one's turn has passed.
    const [, host, method, path] = m as unknown as [string, string, string, string];
    const service = ctx.services.get(host);
    expect(service, `${label}: the block names no ${host}`).toBeDefined();
    expect(
      service!.seen.filter((r) => r.method === method && r.url === path),
      label,
    ).toEqual([]);
    return;
  }
  m = /^headers\s+(\S+)((?:\s+[-+][\w-]+(?:=\S+)?)+)$/.exec(check);
  if (m) {
    // Every request the stand-in service received lacks each `-name` and has each `+name=value`.
    const [, host, rules = ''] = m as unknown as string[];
    const service = ctx.services.get(host!);
    expect(service?.seen.length, `${label}: ${host} received nothing`).toBeGreaterThan(0);
    for (const rule of rules.trim().split(/\s+/)) {
      const [name = '', value] = rule.slice(1).split('=');
      for (const request of service!.seen) {
        if (rule.startsWith('-'))
          expect(request.headers[name], `${label}: ${name} reached ${host}`).toBeUndefined();
        else expect(request.headers[name], `${label}: ${name} on the copy`).toBe(value);
      }
    }
    return;
  }
  m = /^seen\s+(\S+)\s+([A-Z]+)\s+(\S+)$/.exec(check);
  if (m) {
    const [, host, method, path] = m as unknown as [string, string, string, string];
    const service = ctx.services.get(host);
    expect(service, `${label}: the block names no ${host}`).toBeDefined();
    await expect
      .poll(() => service!.seen.some((r) => r.method === method && r.url === path), { timeout: 10_000 })
      .toBe(true);
    return;
  }
  m = /^metrics\s+(\S+)$/.exec(check);
  if (m) {
    // One request first, so that the histogram has a series to show.
    await (await fetch(`${ctx.url}/docs-probe`)).arrayBuffer();
    const res = await fetch(ctx.url + m[1]);
    expect(res.status, label).toBe(200);
    expect(await res.text(), label).toMatch(
      /http_request_duration_seconds_count\{[^}]*version="(stable|canary)"/,
    );
    return;
  }
  m = /^([A-Z]+)\s+(\S+)((?:\s+[\w-]+:\S+)*)\s*->\s*(\d{3})(?:\s+~(.+))?$/.exec(check);
  if (m) {
    const [, method, path, headerText = '', status, contains] = m as unknown as string[];
    const headers: Record<string, string> = {};
    for (const h of headerText.trim().split(/\s+/).filter(Boolean)) {
      const i = h.indexOf(':');
      // `signed(checkout-v2=always)`: the override signed with the secret the docs read from the environment.
      const value = h.slice(i + 1).replace(/^signed\((.+)\)$/, (_all, spec: string) => {
        const [flag = '', version = ''] = spec.split('=');
        return signOverride({
          overrides: { [flag]: version as 'always' | 'never' },
          secret: DOC_OVERRIDE_SECRET,
          expiresInSeconds: 600,
        });
      });
      headers[h.slice(0, i)] = value;
    }
    const res = await fetch(ctx.url + path!, { method, headers });
    const body = await res.text();
    expect(res.status, `${label}: body ${body.slice(0, 200)}`).toBe(Number(status));
    if (contains) expect(body, label).toContain(contains.trim());
    return;
  }
  throw new Error(`${label}: unknown check`);
}
