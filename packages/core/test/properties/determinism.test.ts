import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createCanary } from '@canary-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Decisions are a pure function of (config, identity): two separate Node processes running the built
 * package, and this process running the sources, must agree on every one of 100,000 identities, among
 * them non-ASCII ones and lone surrogates, for murmur3 and unleash flags alike.
 */

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const coreDir = join(here, '..', '..');
const distEntry = join(coreDir, 'dist', 'index.js');
const tsdown = join(coreDir, '..', '..', 'node_modules', '.bin', 'tsdown');
const childScript = join(here, 'decide-child.mjs');

const SEED = 'canary-kit/determinism/2024';
const COUNT = 100_000;

interface ChildModule {
  FLAGS: Record<string, unknown>;
  makeIds(seed: string, count: number): string[];
  decideAll(create: typeof createCanary, seed: string, count: number): Record<string, string>;
}

interface ChildOutput {
  pid: number;
  decisions: Record<string, string>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than anything in src/ (or the build config). */
function ensureBuilt(): void {
  const sourcesChanged = Math.max(
    newestMtime(join(coreDir, 'src')),
    statSync(join(coreDir, 'tsdown.config.ts')).mtimeMs,
    statSync(join(coreDir, 'package.json')).mtimeMs,
  );
  if (existsSync(distEntry) && statSync(distEntry).mtimeMs >= sourcesChanged) return;
  execFileSync(tsdown, [], { cwd: coreDir, stdio: 'pipe' });
}

async function runChild(seed: string, count: number): Promise<ChildOutput> {
  const { stdout } = await run(process.execPath, [childScript, seed, String(count)], {
    cwd: here,
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(stdout) as ChildOutput;
}

/** Index of the first differing decision, -1 when both lists are identical. */
function firstDifference(a: string, b: string): number {
  if (a === b) return -1;
  const x = a.split(',');
  const y = b.split(',');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return i;
  return -1;
}

function expectSameDecisions(
  actual: Record<string, string>,
  expected: Record<string, string>,
  ids: string[],
  label: string,
) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const flag of Object.keys(expected)) {
    const at = firstDifference(actual[flag]!, expected[flag]!);
    const detail =
      at === -1
        ? ''
        : `${label}: flag ${flag}, id #${at} ${JSON.stringify(ids[at])}: ${actual[flag]!.split(',')[at]} vs ${expected[flag]!.split(',')[at]}`;
    expect(detail, detail).toBe('');
  }
}

describe('decisions are deterministic across processes', () => {
  let child: ChildModule;

  beforeAll(async () => {
    ensureBuilt();
    child = (await import(childScript)) as ChildModule;
  }, 120_000);

  it('the id generator is deterministic and covers non-ASCII identities', () => {
    const ids = child.makeIds(SEED, COUNT);
    expect(ids).toHaveLength(COUNT);
    expect(child.makeIds(SEED, 1000)).toEqual(ids.slice(0, 1000));
    expect(child.makeIds(`${SEED}-other`, 1000)).not.toEqual(ids.slice(0, 1000));
    const nonAscii = ids.filter((id) => [...id].some((ch) => ch.codePointAt(0)! > 0x7f)).length;
    const loneSurrogates = ids.filter((id) =>
      /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(id),
    ).length;
    expect(nonAscii).toBeGreaterThan(COUNT / 3);
    expect(loneSurrogates).toBeGreaterThan(1000);
    expect(new Set(ids).size).toBeGreaterThan(COUNT * 0.9);
  });

  it('two node processes on dist/ and this process on src/ make identical decisions for 100,000 ids', async () => {
    const [first, second] = await Promise.all([runChild(SEED, COUNT), runChild(SEED, COUNT)]);
    const inProcess = child.decideAll(createCanary, SEED, COUNT);
    const ids = child.makeIds(SEED, COUNT);

    // Really three different processes.
    expect(new Set([first.pid, second.pid, process.pid]).size).toBe(3);

    expectSameDecisions(first.decisions, second.decisions, ids, 'process 1 vs process 2');
    expectSameDecisions(first.decisions, inProcess, ids, 'dist (child) vs src (test process)');

    // Every flag of the fixture was decided for every id, by its percentage, and the splits are not degenerate.
    expect(Object.keys(inProcess).sort()).toEqual(Object.keys(child.FLAGS).sort());
    for (const [flag, joined] of Object.entries(inProcess)) {
      const decisions = joined.split(',');
      expect(decisions, flag).toHaveLength(COUNT);
      expect(
        decisions.every((d) => /^[CS]\d+$/.test(d)),
        flag,
      ).toBe(true);
      const canary = decisions.filter((d) => d.startsWith('C')).length;
      expect(canary, flag).toBeGreaterThan(0);
      expect(canary, flag).toBeLessThan(COUNT);
    }
  });
});
