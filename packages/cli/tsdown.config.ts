import { defineConfig } from 'tsdown';

// A binary, not a library: one ESM entry with its shebang kept (tsdown makes the file executable), no
// declarations. `@canary-kit/core` and undici stay external dependencies.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: false,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
});
