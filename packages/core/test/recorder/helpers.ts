import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import type { ConfigIssue } from '../../src/config/errors.js';
import { type NormalizedRecorder, type RecorderConfig, validateRecorder } from '../../src/recorder/config.js';
import type { RecordedExchange } from '../../src/recorder/recorder.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'canary-recorder-'));
  dirs.push(dir);
  return dir;
}

/** A validated recorder config; fails the test on any issue. */
export function recorderConfig(config: Partial<RecorderConfig> & { path: string }): NormalizedRecorder {
  const issues: ConfigIssue[] = [];
  const normalized = validateRecorder(config, issues);
  expect(issues).toEqual([]);
  return normalized!;
}

export function exchange(overrides: Partial<RecordedExchange> = {}): RecordedExchange {
  return {
    method: 'GET',
    url: '/items?page=2',
    headers: { host: 'shop.test', accept: 'application/json' },
    body: undefined,
    bodyTruncated: false,
    version: 'stable',
    status: 200,
    responseHeaders: { 'content-type': 'application/json' },
    responseBody: Buffer.from('{"items":[]}'),
    responseTruncated: false,
    durationMs: 12.3456,
    ...overrides,
  };
}
