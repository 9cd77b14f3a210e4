import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers/build.js';

// Packages ship ESM only; Node ≥ 20.19 lets a CommonJS app require() them. Check it on the built files.
describe('CommonJS apps can require() the packages', () => {
  it('@canary-kit/core', () => {
    ensureBuilt('core');
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cjs-'));
    const file = join(dir, 'app.cjs');
    writeFileSync(
      file,
      `const { createCanary, CanaryConfigError } = require(${JSON.stringify(join(ROOT, 'packages/core'))});
const canary = createCanary({ flags: { checkout: { percentage: 100 } } });
let configError = false;
try { createCanary({ flags: { checkout: { percentage: 101 } } }); } catch (e) { configError = e instanceof CanaryConfigError; }
process.stdout.write(JSON.stringify({ decision: canary.evaluate('checkout', { userId: 'u1' }), configError }));
canary.close();
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
    expect(out).toEqual({
      decision: { flag: 'checkout', version: 'canary', reason: 'percentage', bucket: expect.any(Number) },
      configError: true,
    });
  });
});
