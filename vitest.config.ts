import { defineConfig } from 'vitest/config';

// Tests import the packages by name; the `@canary-kit/source` export condition points them at `src/`,
// so a test run needs no build. Tests that check the published artifact (CommonJS require, examples)
// load `dist/` in a child process instead.
export default defineConfig({
  resolve: { conditions: ['@canary-kit/source'] },
  // Legacy decorators with design:paramtypes for every transformed file, not only those under a tsconfig that
  // enables them: test/nest11 runs @canary-kit/nestjs's src from an injected copy inside node_modules, where
  // the repo's tsconfig is not found. Nest's constructor injection needs the metadata.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  ssr: { resolve: { conditions: ['@canary-kit/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
