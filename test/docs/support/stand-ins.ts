import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CanaryModule } from '@canary-kit/nestjs';
import { ROOT } from './markdown.js';

/**
 * The application parts documentation blocks use without defining (see modules.ts), reachable from the
 * generated modules as `globalThis.__docHarness`. Handlers answer `{ handler: '<name>' }`, so a check can tell
 * which one served a request.
 */

export const logged: unknown[][] = [];

/** Every flag the documentation blocks name, at 50 % so that both versions serve. */
export function docFlags(): Record<string, { percentage: number; stickiness?: string[] }> {
  return {
    'checkout-v2': { percentage: 50, stickiness: ['userId', 'sessionId'] },
    'cart-v2': { percentage: 50 },
    'search-v2': { percentage: 50 },
    'search-v3': { percentage: 50 },
    'orders-v2': { percentage: 50 },
    'admin-v2': { percentage: 50 },
  };
}

let nest: ReturnType<typeof makeNestStandIns> | undefined;
/** Made once: a block's `ConfigModule` must export the very `ConfigService` class another block injects. */
const nestStandIns = () => {
  nest ??= makeNestStandIns();
  return nest;
};

function makeNestStandIns() {
  const common = createRequire(join(ROOT, 'packages/nestjs/package.json'))('@nestjs/common') as {
    Injectable: () => ClassDecorator;
    Module: (meta: object) => ClassDecorator;
  };
  /** Stands in for @nestjs/config's ConfigService: the flags a deployment would read from its config. */
  class ConfigService {
    get(key: string): unknown {
      return key === 'canaryFlags' ? docFlags() : undefined;
    }
  }
  common.Injectable()(ConfigService);
  class ConfigModule {}
  common.Module({ providers: [ConfigService], exports: [ConfigService] })(ConfigModule);
  /** The application's root module, for blocks that only show `main.ts`. */
  class AppModule {}
  common.Module({
    imports: [
      CanaryModule.forRoot({
        config: { flags: docFlags() },
        context: (req) => ({ userId: req.headers['x-user-id'] as string | undefined }),
        metricsPath: '/metrics',
      }),
    ],
  })(AppModule);
  return { ConfigService, ConfigModule, AppModule };
}

/** The override secret the docs read from the environment. */
export const DOC_OVERRIDE_SECRET = 'docs-override-secret-0123456789';

export function installStandIns(): void {
  process.env.CANARY_OVERRIDE_SECRET = DOC_OVERRIDE_SECRET;
  const requireNest = createRequire(join(ROOT, 'packages/nestjs/package.json'));
  // Nest's start-up log lines, for every app the blocks start, would bury the test output.
  (requireNest('@nestjs/common') as { Logger: { overrideLogger(level: false): void } }).Logger.overrideLogger(
    false,
  );
  // A block whose app fails to start must fail its test with Nest's error, not end the test process
  // (NestFactory.create exits the process on a start-up error unless told not to).
  const { NestFactory } = requireNest('@nestjs/core') as {
    NestFactory: { create: (module: unknown, ...rest: unknown[]) => Promise<unknown> };
  };
  const create = NestFactory.create.bind(NestFactory);
  NestFactory.create = (module, ...rest) => {
    // create(module, options?) or create(module, httpAdapter, options?): the options are the last plain object.
    const adapter = rest.length === 2 || (rest[0] as { getInstance?: unknown } | undefined)?.getInstance;
    const args = adapter ? rest.slice(0, 1) : [];
    const options = (adapter ? rest[1] : rest[0]) as object | undefined;
    return create(module, ...args, { abortOnError: false, ...options });
  };
  const log =
    (level: string) =>
    (...args: unknown[]) =>
      logged.push([level, ...args]);
  (globalThis as Record<string, unknown>).__docHarness = {
    docFlags,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    pager: { alert: log('pager') },
    data: (name: string) => (arg: unknown) => ({
      from: name,
      arg: typeof arg === 'string' ? arg : undefined,
    }),
    expressHandler: (name: string) => (_req: unknown, res: { json(body: unknown): void }) =>
      res.json({ handler: name }),
    fastifyHandler: (name: string) => async () => ({ handler: name }),
    expressContext: (req: { get(name: string): string | undefined }) => ({ userId: req.get('x-user-id') }),
    fastifyContext: (request: { headers: Record<string, unknown> }) => ({
      userId: request.headers['x-user-id'] as string | undefined,
    }),
    requireOpsToken: async (
      request: { headers: Record<string, unknown> },
      reply: { code(n: number): { send(body: unknown): unknown } },
    ) => {
      if (request.headers['x-ops-token'] !== 'ops')
        return reply.code(401).send({ error: 'ops token required' });
    },
    get nest() {
      return nestStandIns();
    },
  };
}
