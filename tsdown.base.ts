import type { UserConfig } from 'tsdown';

/**
 * What every package builds with: ESM for Node ≥ 20.19 (which lets CommonJS apps require() it), `.js`
 * files beside `.d.ts` declarations. Each package's tsdown.config.ts spreads this and adds what differs.
 */
export const packageBuild: UserConfig = {
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: true,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
};
