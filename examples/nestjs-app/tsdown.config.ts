import { defineConfig } from 'tsdown';

// Compiled with the repo's tsconfig (experimentalDecorators + emitDecoratorMetadata): Nest injects
// constructor parameters from the emitted design:paramtypes.
export default defineConfig({
  entry: ['src/main.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: false,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
});
