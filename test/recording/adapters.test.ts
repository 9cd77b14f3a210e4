// End to end, per adapter: live traffic carrying secrets → the recorder (rotation on) → no secret on disk →
// the real `canary-kit replay` binary against a baseline and a candidate with planted differences.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordings, recordingFiles } from '@canary-kit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCli, runCli } from '../cli/helpers.js';
import { ADAPTERS, canaryWith, recordingBytes, serveTwin, startApp, tempDir } from './apps.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => ensureCli());

const GETS = 12;
const POSTS = 8;

/** Distinct, greppable secrets for request `i`, by where they are planted. */
function secretsOf(i: number) {
  return {
    authorization: `S3CRET-AUTH-${i}-zq`,
    cookie: `S3CRET-COOKIE-${i}-zq`,
    apiKeyHeader: `S3CRET-XAPIKEY-${i}-zq`,
    queryApiKey: `S3CRET-QAPIKEY-${i}-zq`,
    queryToken: `S3CRET-QTOKEN-${i}-zq`,
    password: `S3CRET-PASSWORD-${i}-zq`,
    bodyToken: `S3CRET-BTOKEN-${i}-zq`,
    card: `4111111111${String(1000 + i)}`,
  };
}

async function drive(base: string): Promise<string[]> {
  const planted: string[] = [];
  for (let i = 0; i < GETS + POSTS; i++) {
    const s = secretsOf(i);
    const headers: Record<string, string> = {
      authorization: `Bearer ${s.authorization}`,
      cookie: `sid=${s.cookie}; theme=dark`,
      'x-api-key': s.apiKeyHeader,
      'x-user': `user-${i}`,
    };
    const query = `?api_key=${s.queryApiKey}&token=${s.queryToken}&page=${i}`;
    let res: Response;
    if (i < GETS) {
      planted.push(s.authorization, s.cookie, s.apiKeyHeader, s.queryApiKey, s.queryToken);
      res = await fetch(`${base}/orders/o${i}${query}`, { headers });
      expect(res.status).toBe(200);
    } else {
      planted.push(...Object.values(s));
      res = await fetch(`${base}/orders${query}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          qty: i,
          password: s.password,
          token: s.bodyToken,
          card: { number: s.card, brand: 'visa' },
        }),
      });
      expect(res.status).toBe(201);
    }
    await res.arrayBuffer();
  }
  return planted;
}

describe.each(ADAPTERS)('recording through %s', (adapter) => {
  it('keeps every secret off the disk and replays to a report naming only the planted fields', async () => {
    const tmp = tempDir('canary-kit-recording-');
    cleanups.push(tmp.remove);
    const path = join(tmp.dir, 'requests.jsonl');
    const canary = canaryWith({
      path,
      sampleRate: 1,
      withResponse: true,
      // Small files so the recording rotates: the rotated files are checked too.
      maxFileBytes: 4096,
      maxFiles: 100,
      redact: { fields: ['$.card.number'] },
    });
    cleanups.push(() => canary.close());
    const app = await startApp(adapter, canary);
    cleanups.push(() => app.close());

    const planted = await drive(app.base);
    await app.close();
    await canary.close();
    expect(canary.stats().recorder).toEqual({ written: GETS + POSTS, dropped: 0, error: 0 });

    // ── no secret in any byte of any file, nor inside the base64 bodies ──
    const files = recordingBytes(tmp.dir, 'requests.jsonl');
    expect(files.length).toBeGreaterThan(1); // rotated
    const decoded: string[] = [];
    for (const { bytes } of files) {
      for (const line of bytes.toString('utf8').split('\n').filter(Boolean)) {
        const record = JSON.parse(line) as { body: string; response_body: string | null };
        decoded.push(Buffer.from(record.body, 'base64').toString('utf8'));
        decoded.push(Buffer.from(record.response_body ?? '', 'base64').toString('utf8'));
      }
    }
    const everything = [...files.map((f) => f.bytes.toString('latin1')), ...decoded].join('\n');
    for (const secret of planted) expect(everything, secret).not.toContain(secret);
    expect(everything).toContain('[REDACTED]');

    // The recording reads back as what was sent, redacted.
    const ordered = await recordingFiles(path);
    const records = [];
    for await (const entry of readRecordings(ordered)) {
      expect(entry).not.toHaveProperty('error');
      if ('record' in entry) records.push(entry.record);
    }
    expect(records).toHaveLength(GETS + POSTS);
    const post = records.find((r) => r.method === 'POST')!;
    expect(JSON.parse(Buffer.from(post.body, 'base64').toString())).toMatchObject({
      password: '[REDACTED]',
      token: '[REDACTED]',
      card: { number: '[REDACTED]', brand: 'visa' },
    });
    expect(post.status).toBe(201);
    expect(post.headers.authorization).toBe('[REDACTED]');

    // ── replay with the real binary ──
    const baseline = await serveTwin(false);
    cleanups.push(() => baseline.close());
    const candidate = await serveTwin(true);
    cleanups.push(() => candidate.close());
    const json = join(tmp.dir, 'report.json');
    const result = await runCli([
      'replay',
      ...ordered,
      '--baseline',
      baseline.base,
      '--candidate',
      candidate.base,
      '--methods',
      'GET,POST',
      '--json',
      json,
      '--quiet',
    ]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      fields: { field: string; count: number }[];
      totals: Record<string, number>;
      gate: { failUnder: number; passed: boolean };
      malformed: { count: number };
    };
    expect(report.fields.map((f) => f.field).sort()).toEqual(['$.extra', '$.total']);
    expect(Object.fromEntries(report.fields.map((f) => [f.field, f.count]))).toEqual({
      '$.total': GETS,
      '$.extra': POSTS,
    });
    expect(report.malformed.count).toBe(0);
    expect(report.gate).toEqual({ failUnder: 100, passed: false });
  });
});
