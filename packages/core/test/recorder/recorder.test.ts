import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ReadRecord } from '../../src/recorder/format.js';
import { readRecordings, recordingFiles } from '../../src/recorder/read-recording.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { REDACTED } from '../../src/recorder/redact.js';
import { exchange, recorderConfig, tempDir } from './helpers.js';

async function readAll(file: string): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  for await (const entry of readRecordings([file])) {
    if ('error' in entry) throw new Error(`${entry.file}:${entry.line}: ${entry.error}`);
    out.push(entry.record);
  }
  return out;
}

/** Every value a record could carry a secret in, decoded: the raw line, the bodies (gunzipped when gzip). */
function decodedTexts(line: string): string[] {
  const record = JSON.parse(line) as Record<string, unknown>;
  const texts = [line];
  for (const [field, headersField] of [
    ['body', 'headers'],
    ['response_body', 'response_headers'],
  ] as const) {
    const value = record[field];
    if (typeof value !== 'string') continue;
    const bytes = Buffer.from(value, 'base64');
    texts.push(bytes.toString('utf8'), bytes.toString('latin1'));
    const headers = record[headersField] as Record<string, string> | null;
    if (headers?.['content-encoding'] === 'gzip') {
      try {
        texts.push(zlib.gunzipSync(bytes).toString());
      } catch {
        // The marker, not gzip.
      }
    }
  }
  return texts;
}

describe('Recorder: redaction before anything is written', () => {
  it('no planted secret appears in any file, rotated ones included, in any encoding', async () => {
    const dir = await tempDir();
    const path = join(dir, 'rec.jsonl');
    const recorder = new Recorder(
      recorderConfig({
        path,
        sampleRate: 1,
        withResponse: true,
        maxFileBytes: 2048,
        maxFiles: 50,
        redact: { headers: ['X-Session'], query: ['sessionKey'], fields: ['$.card.number', 'pin'] },
      }),
    );
    const n = 12;
    for (let i = 0; i < n; i++) {
      recorder.record(
        exchange({
          method: 'POST',
          url: `/checkout?item=${i}&token=SECRETq${i}&sessionKey=SECRETk${i}&access_token=SECRETa${i}`,
          headers: {
            authorization: `Bearer SECRETauth${i}`,
            cookie: `sid=SECRETcookie${i}`,
            'proxy-authorization': `Basic SECRETproxy${i}`,
            'x-api-key': `SECRETkey${i}`,
            'x-session': `SECRETsession${i}`,
            'content-type': 'application/json',
            'x-trace': `trace-${i}`,
          },
          body: Buffer.from(
            JSON.stringify({
              item: i,
              password: `SECRETpw${i}`,
              nested: { deeper: [{ token: `SECRETtok${i}` }], refreshToken: `SECRETrt${i}` },
              card: { number: `SECRETcard${i}`, holder: 'Ann' },
              pin: `SECRETpin${i}`,
            }),
          ),
          responseHeaders: {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'set-cookie': [`sid=SECRETsetcookie${i}; HttpOnly`, `other=SECRETother${i}`],
          },
          responseBody: zlib.gzipSync(
            Buffer.from(
              JSON.stringify({ order: i, access_token: `SECRETresp${i}`, client_secret: `SECRETcs${i}` }),
            ),
          ),
        }),
      );
      recorder.record(
        exchange({
          method: 'POST',
          url: '/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: Buffer.from(`user=ann&password=SECRETform${i}&pin=SECRETformpin${i}`),
          responseHeaders: { 'content-type': 'application/json' },
          // Cut at the capture limit: unreadable, so replaced whole.
          responseBody: Buffer.from(`{"token":"SECRETcut${i}","a":`),
          responseTruncated: true,
        }),
      );
    }
    await recorder.close();
    expect(recorder.counts).toEqual({ written: 2 * n, dropped: 0, error: 0 });

    const files = await readdir(dir);
    expect(files.length).toBeGreaterThan(1); // rotation happened, and every file is checked
    let lines = 0;
    let markers = 0;
    for (const name of files) {
      const bytes = await readFile(join(dir, name));
      expect(bytes.includes('SECRET')).toBe(false);
      for (const line of bytes.toString().split('\n').filter(Boolean)) {
        lines++;
        for (const text of decodedTexts(line)) {
          expect(text).not.toContain('SECRET');
          markers += text.split(REDACTED).length - 1;
        }
        // What is not secret is still there.
        expect(line).toMatch(/trace-\d+|"\/login"/);
      }
    }
    expect(lines).toBe(2 * n);
    expect(markers).toBeGreaterThan(20 * n);

    const records = (await Promise.all((await recordingFiles(path)).map(readAll))).flat();
    const checkout = records.find((r) => r.url.startsWith('/checkout?item=3&'))!;
    expect(checkout.url).toBe(
      `/checkout?item=3&token=${REDACTED}&sessionKey=${REDACTED}&access_token=${REDACTED}`,
    );
    expect(checkout.headers).toMatchObject({
      authorization: REDACTED,
      'x-session': REDACTED,
      'x-trace': 'trace-3',
    });
    expect(JSON.parse(Buffer.from(checkout.body, 'base64').toString())).toEqual({
      item: 3,
      password: REDACTED,
      nested: { deeper: [{ token: REDACTED }], refreshToken: REDACTED },
      card: { number: REDACTED, holder: 'Ann' },
      pin: REDACTED,
    });
    expect(checkout.response_headers!['set-cookie']).toEqual([REDACTED, REDACTED]);
    const response = zlib.gunzipSync(Buffer.from(checkout.response_body!, 'base64')).toString();
    expect(JSON.parse(response)).toEqual({ order: 3, access_token: REDACTED, client_secret: REDACTED });
    const login = records.find((r) => r.url === '/login')!;
    expect(Buffer.from(login.body, 'base64').toString()).toBe(
      `user=ann&password=${REDACTED}&pin=${REDACTED}`,
    );
    expect(Buffer.from(login.response_body!, 'base64').toString()).toBe(REDACTED);
    expect(login.response_body_truncated).toBe(true);
  });
});

describe('Recorder: sampling', () => {
  const path = '/nonexistent/never-written.jsonl';

  it('sampleRate 0 never records and never tosses the coin; 1 always records', () => {
    let tosses = 0;
    const random = () => {
      tosses++;
      return 0;
    };
    const never = new Recorder(recorderConfig({ path, sampleRate: 0 }), { random });
    const always = new Recorder(recorderConfig({ path, sampleRate: 1 }), { random });
    for (let i = 0; i < 100; i++) {
      expect(never.sample('GET', `/x/${i}`)).toBe(false);
      expect(always.sample('GET', `/x/${i}`)).toBe(true);
    }
    expect(tosses).toBe(0);
  });

  it('sampleRate 0.5 records exactly when the injected random is below it', () => {
    const sequence = [0.1, 0.9, 0.4999, 0.5, 0, 0.75];
    let i = 0;
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 0.5 }), {
      random: () => sequence[i++]!,
    });
    expect(sequence.map(() => recorder.sample('GET', '/'))).toEqual([true, false, true, false, true, false]);
  });

  it('the default rate is 1%', () => {
    let i = 0;
    const recorder = new Recorder(recorderConfig({ path }), { random: () => (i++ % 100) / 100 });
    let sampled = 0;
    for (let n = 0; n < 1000; n++) if (recorder.sample('GET', '/')) sampled++;
    expect(sampled).toBe(10);
  });

  it('filters by method, include and exclude before the coin is tossed', () => {
    let tosses = 0;
    const recorder = new Recorder(
      recorderConfig({
        path,
        sampleRate: 0.5,
        methods: ['get', 'POST'],
        include: ['/api/**', '/orders/:id'],
        exclude: ['/api/health', '/api/internal/**'],
      }),
      {
        random: () => {
          tosses++;
          return 0;
        },
      },
    );
    expect(recorder.sample('GET', '/api/items?x=1')).toBe(true);
    expect(recorder.sample('post', '/orders/42')).toBe(true);
    expect(recorder.sample('DELETE', '/api/items')).toBe(false);
    expect(recorder.sample('GET', '/orders/42/lines')).toBe(false);
    expect(recorder.sample('GET', '/home')).toBe(false);
    expect(recorder.sample('GET', '/api/health?verbose')).toBe(false);
    expect(recorder.sample('GET', '/api/internal/a/b')).toBe(false);
    expect(tosses).toBe(2);
  });

  it('empty include means every path; no methods means every method', () => {
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1 }));
    for (const method of ['GET', 'PUT', 'PATCH', 'PROPFIND'])
      expect(recorder.sample(method, '/any/where')).toBe(true);
  });

  it('exposes the capture limits a request binding needs', () => {
    expect(new Recorder(recorderConfig({ path, maxBodyBytes: 1000 })).requestLimit).toBe(1000);
    expect(new Recorder(recorderConfig({ path, maxBodyBytes: 1000 })).responseLimit).toBe(0);
    expect(new Recorder(recorderConfig({ path, maxBodyBytes: 1000, withResponse: true })).responseLimit).toBe(
      1000,
    );
  });
});

describe('Recorder: the v1 record', () => {
  it('writes every field, response fields only with withResponse', async () => {
    const dir = await tempDir();
    const plain = new Recorder(recorderConfig({ path: join(dir, 'a.jsonl'), sampleRate: 1 }));
    let headerCalls = 0;
    const before = Date.now();
    plain.record(
      exchange({
        method: 'put',
        url: '/items/1',
        headers: { 'content-type': 'application/octet-stream', 'x-multi': ['a', 'b'] },
        body: Buffer.from([0, 1, 2, 255]),
        bodyTruncated: true,
        version: 'canary',
        status: 201,
        responseHeaders: () => {
          headerCalls++;
          return {};
        },
        durationMs: 7.123456,
      }),
    );
    await plain.close();
    const line = (await readFile(join(dir, 'a.jsonl'), 'utf8')).trim();
    const record = JSON.parse(line);
    expect(Object.keys(record)).toEqual([
      'v',
      'id',
      'ts',
      'method',
      'url',
      'headers',
      'body',
      'body_truncated',
      'version',
      'status',
      'response_headers',
      'response_body',
      'response_body_truncated',
      'duration_ms',
    ]);
    expect(record).toMatchObject({
      v: 1,
      method: 'PUT',
      url: '/items/1',
      headers: { 'content-type': 'application/octet-stream', 'x-multi': ['a', 'b'] },
      body: Buffer.from([0, 1, 2, 255]).toString('base64'),
      body_truncated: true,
      version: 'canary',
      status: 201,
      response_headers: null,
      response_body: null,
      response_body_truncated: false,
      duration_ms: 7.123,
    });
    expect(record.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // ts is the request's start: before the record call, by the duration.
    const ts = Date.parse(record.ts);
    expect(record.ts).toBe(new Date(ts).toISOString());
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(ts).toBeGreaterThanOrEqual(before - 8);
    expect(headerCalls).toBe(0);

    const full = new Recorder(
      recorderConfig({ path: join(dir, 'b.jsonl'), sampleRate: 1, withResponse: true }),
    );
    full.record(
      exchange({
        body: undefined,
        responseBody: undefined,
        status: 204,
        responseHeaders: () => ({ etag: 'x' }),
      }),
    );
    full.record(exchange({ responseBody: Buffer.from('{"a":1}'), responseTruncated: true }));
    await full.close();
    const [first, second] = await readAll(join(dir, 'b.jsonl'));
    expect(first).toMatchObject({
      body: '',
      status: 204,
      response_headers: { etag: 'x' },
      response_body: '',
    });
    expect(second).toMatchObject({
      response_body: Buffer.from('{"a":1}').toString('base64'),
      response_body_truncated: true,
    });
  });

  it('keeps its own maxBodyBytes even when the capture (sized for a shadow target) holds more', async () => {
    const dir = await tempDir();
    const path = join(dir, 'limit.jsonl');
    const recorder = new Recorder(
      recorderConfig({ path, sampleRate: 1, withResponse: true, maxBodyBytes: 4, maxQueueBytes: 1024 }),
    );
    recorder.record(
      exchange({
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from('abcdefgh'),
        responseHeaders: { 'content-type': 'text/plain' },
        responseBody: Buffer.from('12345678'),
      }),
    );
    recorder.record(
      exchange({
        headers: {},
        body: Buffer.from('abcd'),
        responseBody: Buffer.from('1234'),
        responseHeaders: {},
      }),
    );
    await recorder.close();
    const [cutRecord, whole] = await readAll(path);
    expect(cutRecord).toMatchObject({
      body: Buffer.from('abcd').toString('base64'),
      body_truncated: true,
      response_body: Buffer.from('1234').toString('base64'),
      response_body_truncated: true,
    });
    expect(whole).toMatchObject({ body_truncated: false, response_body_truncated: false });
  });

  it('round-trips through the reader', async () => {
    const dir = await tempDir();
    const path = join(dir, 'rt.jsonl');
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1, withResponse: true }));
    recorder.record(
      exchange({ method: 'POST', body: Buffer.from('hello'), headers: { 'content-type': 'text/plain' } }),
    );
    await recorder.close();
    const written = JSON.parse((await readFile(path, 'utf8')).trim());
    const [read] = await readAll(path);
    expect(read).toEqual({ ...written, format: 'v1' });
    expect(Buffer.from(read!.body, 'base64').toString()).toBe('hello');
  });
});

describe('Recorder: rotation', () => {
  it('rotates by size and keeps maxFiles files, the newest records in the current file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'rot.jsonl');
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1, maxFileBytes: 2048, maxFiles: 3 }));
    const n = 40;
    for (let i = 0; i < n; i++)
      recorder.record(exchange({ url: `/r/${i}`, headers: { pad: 'x'.repeat(200) } }));
    await recorder.close();
    expect(recorder.counts).toEqual({ written: n, dropped: 0, error: 0 });
    expect((await readdir(dir)).sort()).toEqual(['rot.jsonl', 'rot.jsonl.1', 'rot.jsonl.2']);
    for (const name of await readdir(dir))
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(2048);
    const files = await recordingFiles(path);
    expect(files).toEqual([join(dir, 'rot.jsonl.2'), join(dir, 'rot.jsonl.1'), path]);
    const urls = (await Promise.all(files.map(readAll))).flat().map((r) => r.url);
    // The kept records are the most recent ones, in order, ending with the last.
    const firstKept = Number(urls[0]!.slice(3));
    expect(urls).toEqual(Array.from({ length: n - firstKept }, (_, i) => `/r/${firstKept + i}`));
    expect(firstKept).toBeGreaterThan(0);
  });
});

describe('Recorder: bounded and never in the way', () => {
  it('a full queue drops and counts exactly', async () => {
    const dir = await tempDir();
    const recorder = new Recorder(
      recorderConfig({ path: join(dir, 'q.jsonl'), sampleRate: 1, maxQueueLines: 2 }),
    );
    // All in one tick: the first record leaves the queue for the writer at once, two more wait, the rest drop.
    for (let i = 0; i < 10; i++) expect(recorder.record(exchange({ url: `/q/${i}` }))).toBeUndefined();
    expect(recorder.counts).toEqual({ written: 0, dropped: 7, error: 0 });
    expect(recorder.queued).toBe(2);
    await recorder.flush();
    expect(recorder.counts).toEqual({ written: 3, dropped: 7, error: 0 });
    expect((await readAll(join(dir, 'q.jsonl'))).map((r) => r.url)).toEqual(['/q/0', '/q/1', '/q/2']);
    await recorder.close();
  });

  it('an unwritable directory counts errors and never throws', async () => {
    const dir = await tempDir();
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    // Root ignores permissions: then use a path under a regular file, which no one can create (ENOTDIR/EEXIST).
    let path = join(locked, 'sub', 'rec.jsonl');
    try {
      await writeFile(join(locked, 'probe'), '');
      await writeFile(join(dir, 'file'), '');
      path = join(dir, 'file', 'rec.jsonl');
    } catch {
      // Not root: the permission denial itself is under test.
    }
    const errors: Error[] = [];
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1 }), { error: (e) => errors.push(e) });
    for (let i = 0; i < 5; i++) expect(() => recorder.record(exchange())).not.toThrow();
    await recorder.flush();
    expect(recorder.counts).toEqual({ written: 0, dropped: 0, error: 5 });
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(['EACCES', 'ENOTDIR', 'EEXIST']).toContain((errors[0] as NodeJS.ErrnoException).code);
    // Within the writer's back-off, further records are refused and counted at once.
    recorder.record(exchange());
    expect(recorder.counts.error).toBe(6);
    await recorder.close();
    await chmod(locked, 0o700);
  });

  it('a full disk (ENOSPC) counts errors and never throws', async () => {
    const dir = await tempDir();
    // /dev/full fails every write with ENOSPC. Reached through a symlink so that nothing can ever rename the
    // device itself; where the OS has no /dev/full, the generic write-error path is exercised instead.
    const full = existsSync('/dev/full');
    const path = join(dir, 'full.jsonl');
    if (full) await symlink('/dev/full', path);
    else {
      await writeFile(join(dir, 'file'), '');
    }
    const errors: NodeJS.ErrnoException[] = [];
    const recorder = new Recorder(
      recorderConfig({ path: full ? path : join(dir, 'file', 'x.jsonl'), sampleRate: 1 }),
      { error: (e) => errors.push(e) },
    );
    for (let i = 0; i < 3; i++) expect(() => recorder.record(exchange())).not.toThrow();
    await recorder.flush();
    expect(recorder.counts).toEqual({ written: 0, dropped: 0, error: 3 });
    expect(errors.length).toBeGreaterThanOrEqual(1);
    if (full) expect(errors[0]!.code).toBe('ENOSPC');
    await recorder.close();
  });

  it('a record that cannot be built is counted as an error, reported, and not written', async () => {
    const dir = await tempDir();
    const path = join(dir, 'e.jsonl');
    const reported: Error[] = [];
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1, withResponse: true }), {
      error: (e) => {
        reported.push(e);
        throw new Error('a throwing hook must not escape either');
      },
    });
    expect(() =>
      recorder.record(
        exchange({
          responseHeaders: () => {
            throw new Error('headers already gone');
          },
        }),
      ),
    ).not.toThrow();
    recorder.record(exchange({ url: '/ok' }));
    await recorder.close();
    expect(recorder.counts).toEqual({ written: 1, dropped: 0, error: 1 });
    expect(reported.map((e) => e.message)).toEqual(['headers already gone']);
    expect((await readAll(path)).map((r) => r.url)).toEqual(['/ok']);
  });

  it('close writes everything queued; later records are dropped and counted; close is idempotent', async () => {
    const dir = await tempDir();
    const path = join(dir, 'c.jsonl');
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1 }));
    for (let i = 0; i < 50; i++) recorder.record(exchange({ url: `/c/${i}` }));
    await Promise.all([recorder.close(), recorder.close()]);
    expect(recorder.counts).toEqual({ written: 50, dropped: 0, error: 0 });
    expect((await readAll(path)).length).toBe(50);
    expect(recorder.sample('GET', '/')).toBe(false);
    recorder.record(exchange());
    expect(recorder.counts).toEqual({ written: 50, dropped: 1, error: 0 });
    await recorder.close();
  });

  it('flush waits for what was queued and leaves the recorder open', async () => {
    const dir = await tempDir();
    const path = join(dir, 'f.jsonl');
    const recorder = new Recorder(recorderConfig({ path, sampleRate: 1 }));
    recorder.record(exchange({ url: '/1' }));
    await recorder.flush();
    expect((await readAll(path)).map((r) => r.url)).toEqual(['/1']);
    recorder.record(exchange({ url: '/2' }));
    await recorder.flush();
    expect((await readAll(path)).map((r) => r.url)).toEqual(['/1', '/2']);
    await recorder.close();
  });
});
