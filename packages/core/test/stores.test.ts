import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Canary,
  CanaryConfigError,
  type ChangeEvent,
  createCanary,
  createFileStore,
  createMemoryStore,
} from '@canary-kit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from './support/until.js';

const canaries: Canary[] = [];
function make(config: Parameters<typeof createCanary>[0]) {
  const canary = createCanary(config);
  canaries.push(canary);
  return canary;
}
afterEach(async () => {
  await Promise.all(canaries.splice(0).map((c) => c.close()));
});

describe('change events', () => {
  it('setPercentage emits change with before, after and source', async () => {
    const canary = make({ flags: { f: { percentage: 1 } } });
    const events: ChangeEvent[] = [];
    canary.on('change', (e) => events.push(e));
    await canary.setPercentage('f', 5);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      flag: 'f',
      source: 'api',
      before: { percentage: 1 },
      after: { percentage: 5 },
    });
  });

  it('replaceConfig emits one change per added, changed and removed flag', async () => {
    const canary = make({ flags: { keep: {}, change: { percentage: 1 }, remove: {} } });
    const events: ChangeEvent[] = [];
    canary.on('change', (e) => events.push(e));
    await canary.replaceConfig({ flags: { keep: {}, change: { percentage: 2 }, add: {} } });
    expect(events.map((e) => [e.flag, e.before === undefined, e.after === undefined])).toEqual([
      ['change', false, false],
      ['remove', false, true],
      ['add', true, false],
    ]);
  });

  it('a throwing change listener does not fail the change', async () => {
    const canary = make({ flags: { f: {} } });
    canary.on('change', () => {
      throw new Error('listener bug');
    });
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    await canary.setPercentage('f', 10);
    expect(canary.getFlag('f')?.percentage).toBe(10);
    expect(errors).toHaveLength(1);
  });
});

describe('memory store', () => {
  it('is seeded with the initial config and shared by canaries using it', async () => {
    const store = createMemoryStore();
    const a = make({ flags: { f: { percentage: 1 } }, store });
    await a.ready();
    const b = make({ flags: { f: { percentage: 99 } }, store });
    await b.ready();
    // the store, once it has a document, is the source of truth
    expect(b.getFlag('f')?.percentage).toBe(1);
    await a.setPercentage('f', 25);
    await until(() => b.getFlag('f')?.percentage === 25, 'b to see the change');
    expect(b.revision).toBe(a.revision);
  });

  it('concurrent writers never clobber each other (compare-and-set)', async () => {
    const store = createMemoryStore();
    const a = make({ flags: { x: {}, y: {} }, store });
    const b = make({ flags: { x: {}, y: {} }, store });
    await Promise.all([a.ready(), b.ready()]);
    await Promise.all([a.setPercentage('x', 10), b.setPercentage('y', 20)]);
    const document = await store.load();
    expect(document?.flags).toMatchObject({ x: { percentage: 10 }, y: { percentage: 20 } });
    await until(
      () => a.getFlag('y')?.percentage === 20 && b.getFlag('x')?.percentage === 10,
      'both to converge',
    );
  });

  it('an invalid document from the store is rejected and the last good config keeps serving', async () => {
    const store = createMemoryStore();
    const canary = make({ flags: { f: { percentage: 5 } }, store });
    await canary.ready();
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    await store.save({ flags: { f: { percentage: 500 } }, rollouts: {} }, canary.revision);
    await until(() => errors.length > 0, 'the error event');
    expect(errors[0]).toBeInstanceOf(CanaryConfigError);
    expect((errors[0] as CanaryConfigError).issues[0]?.path).toBe('flags.f.percentage');
    expect(canary.getFlag('f')?.percentage).toBe(5);
    // the next write replaces the bad document
    await canary.setPercentage('f', 6);
    expect((await store.load())?.flags).toMatchObject({ f: { percentage: 6 } });
  });
});

describe('file store', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'canary-kit-file-store-'));
    path = join(dir, 'flags.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads flags from the file, which wins over the initial config', async () => {
    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 42 } } }));
    const canary = make({ flags: { f: { percentage: 1 } }, store: createFileStore({ path }) });
    expect(canary.getFlag('f')?.percentage).toBe(1);
    await canary.ready();
    expect(canary.getFlag('f')?.percentage).toBe(42);
  });

  it('creates a missing file from the initial config and persists setPercentage atomically', async () => {
    const canary = make({ flags: { f: { percentage: 1 } }, store: createFileStore({ path }) });
    await canary.ready();
    await canary.setPercentage('f', 12.5);
    const saved = JSON.parse(await readFile(path, 'utf8'));
    expect(saved.flags.f.percentage).toBe(12.5);
    expect(saved.revision).toBeGreaterThan(0);
  });

  it('hot-reloads a hand edit, debounced, and emits change with source store', async () => {
    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 1 } } }));
    const canary = make({ store: createFileStore({ path, debounceMs: 20 }) });
    await canary.ready();
    const events: ChangeEvent[] = [];
    canary.on('change', (e) => events.push(e));
    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 30 } } }));
    await until(() => canary.getFlag('f')?.percentage === 30, 'the reload');
    expect(events.at(-1)).toMatchObject({ flag: 'f', source: 'store', after: { percentage: 30 } });
  });

  it('keeps the last good config on invalid JSON, an invalid flag, or a deleted file', async () => {
    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 7 } } }));
    const canary = make({ store: createFileStore({ path, debounceMs: 20 }) });
    await canary.ready();
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));

    await writeFile(path, '{ "flags": { "f": ');
    await until(() => errors.length === 1, 'the JSON error');
    expect(errors[0]?.message).toMatch(/not valid JSON/);

    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 700 } } }));
    await until(() => errors.length === 2, 'the validation error');
    expect((errors[1] as CanaryConfigError).issues[0]).toMatchObject({ path: 'flags.f.percentage' });

    await unlink(path);
    await until(() => errors.length === 3, 'the deletion error');
    expect(errors[2]?.message).toMatch(/deleted/);

    expect(canary.getFlag('f')?.percentage).toBe(7);
    expect(canary.evaluate('f', { userId: 'u' }).reason).toBe('percentage');

    // and a good edit afterwards is applied again
    await writeFile(path, JSON.stringify({ flags: { f: { percentage: 8 } } }));
    await until(() => canary.getFlag('f')?.percentage === 8, 'recovery');
  });

  it('an unreadable file at start is an error event, not a throw; the initial config serves', async () => {
    await writeFile(path, 'not json');
    const canary = make({ flags: { f: { percentage: 3 } }, store: createFileStore({ path }) });
    const errors: Error[] = [];
    canary.on('error', (e) => errors.push(e));
    await canary.ready();
    expect(errors).toHaveLength(1);
    expect(canary.getFlag('f')?.percentage).toBe(3);
  });
});
