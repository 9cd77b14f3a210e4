import { defineConfig } from 'vitest/config';

// Tests import the packages by name; the `@canary-kit/source` export condition points them at `src/`,
// so a test run needs no build. Tests that check the published artifact (CommonJS require, examples)
// load `dist/` in a child process instead.
export default defineConfig({
  resolve: { conditions: ['@canary-kit/source'] },
  ssr: { resolve: { conditions: ['@canary-kit/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', '.tmp/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
