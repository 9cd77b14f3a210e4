import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createCanary, type Decision, type RequestCanary } from '@canary-kit/core';
import canaryPlugin, { type CanaryRouteConfig, canaryHandler } from '@canary-kit/fastify';
import Fastify, { type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { Cleanup, listen } from './helpers.js';

/**
 * The declaration merging this package ships: `request.canary` is a RequestCanary and `config.canary` a
 * CanaryRouteConfig in every route. The `@ts-expect-error` lines below fail the type check if the typing
 * went missing (an untyped `config` accepts anything), and the last test runs tsc over this very file.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

function buildApp() {
  const canary = cleanup.canary(createCanary({ flags: { x: { percentage: 100 } } }));
  const app = cleanup.app(Fastify());
  app.register(canaryPlugin, {
    canary,
    context: (request) => ({ userId: request.headers['x-user-id'] as string }),
  });

  app.get<{ Params: { id: string } }>(
    '/typed/:id',
    { config: { canary: { flag: 'x' } } },
    async (request) => {
      expectTypeOf(request.canary).toEqualTypeOf<RequestCanary>();
      expectTypeOf(request.canary.isCanary('x')).toEqualTypeOf<boolean>();
      expectTypeOf(request.canary.evaluate('x')).toEqualTypeOf<Decision>();
      expectTypeOf(request.routeOptions.config.canary).toEqualTypeOf<CanaryRouteConfig | undefined>();
      expectTypeOf(request.params.id).toEqualTypeOf<string>();
      // @ts-expect-error flag keys are strings
      request.canary.isCanary(1);
      return {
        id: request.params.id,
        canary: request.canary.isCanary('x'),
        flag: request.routeOptions.config.canary?.flag,
      };
    },
  );

  // @ts-expect-error config.canary.flag is typed: a number is refused
  app.get('/wrong-flag', { config: { canary: { flag: 1 } } }, async () => 'never served');
  // @ts-expect-error config.canary.metrics is a boolean
  app.get('/wrong-metrics', { config: { canary: { metrics: 'no' } } }, async () => 'never served');
  // config.canary.shadow is typed: true, target name(s), or { targets, writes }
  app.post(
    '/shadowed',
    { config: { canary: { flag: 'x', shadow: { targets: ['v2'], writes: true } } } },
    async () => {
      return 'ok';
    },
  );
  app.post(
    '/wrong-shadow',
    // @ts-expect-error config.canary.shadow.writes is a boolean
    { config: { canary: { shadow: { writes: 'yes' } } } },
    async () => 'never served',
  );
  app.get(
    '/wrong-targets',
    // @ts-expect-error config.canary.shadow takes target names, not numbers
    { config: { canary: { shadow: [1] } } },
    async () => 'never served',
  );

  // canaryHandler takes the route's types: the inline handlers see typed params.
  app.get<{ Params: { id: string } }>(
    '/split/:id',
    { config: { canary: { flag: 'x' } } },
    canaryHandler({
      canary: async (request) => {
        expectTypeOf(request.params.id).toEqualTypeOf<string>();
        return `canary ${request.params.id}`;
      },
      stable: async (request) => `stable ${request.params.id}`,
    }),
  );

  app.addHook('preHandler', async (request: FastifyRequest) => {
    expectTypeOf(request.canary.decisions()).toEqualTypeOf<Decision[]>();
  });
  return app;
}

describe('TypeScript declaration merging', () => {
  it('types request.canary and config.canary, and the typed routes work', async () => {
    const base = await listen(buildApp());
    expect(await (await fetch(`${base}/typed/7`, { headers: { 'x-user-id': 'u' } })).json()).toEqual({
      id: '7',
      canary: true,
      flag: 'x',
    });
    expect(await (await fetch(`${base}/split/9`, { headers: { 'x-user-id': 'u' } })).text()).toBe('canary 9');
  });

  it('compiles under tsc with the project settings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canary-kit-fastify-types-'));
    try {
      const tsconfig = {
        extends: join(root, 'tsconfig.base.json'),
        compilerOptions: { noEmit: true, rootDir: root, typeRoots: [join(root, 'node_modules', '@types')] },
        files: [fileURLToPath(import.meta.url)],
      };
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = join(root, 'node_modules', '.bin', 'tsc');
      const result = await promisify(execFile)(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: root }).then(
        () => ({ code: 0, output: '' }),
        (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
      );
      expect(result).toEqual({ code: 0, output: '' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
