import { defineConfig } from 'tsdown';
import { packageBuild } from '../../tsdown.base.ts';

// A binary, not a library: one ESM entry with its shebang kept (tsdown makes the file executable), no
// declarations. `@canary-kit/core` and undici stay external dependencies.
export default defineConfig({ ...packageBuild, entry: ['src/cli.ts'], dts: false });
