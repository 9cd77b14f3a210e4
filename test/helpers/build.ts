import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Builds the named packages when their dist is missing. `pnpm test` builds everything first; this only
 * matters when a single test file runs on a fresh checkout.
 */
export function ensureBuilt(...packages: string[]): void {
  for (const name of packages) {
    const dir = join(ROOT, 'packages', name);
    if (existsSync(join(dir, 'dist', 'index.js'))) continue;
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsdown'), [], { cwd: dir, stdio: 'pipe' });
  }
}
