import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RecordingLine, readRecordings, recordingFiles } from '../../src/recorder/read-recording.js';
import { tempDir } from './helpers.js';

async function collect(paths: string[], options?: { maxLineBytes?: number }): Promise<RecordingLine[]> {
  const out: RecordingLine[] = [];
  for await (const entry of readRecordings(paths, options)) out.push(entry);
  return out;
}

const V1 = {
  v: 1,
  id: '5b0c5a8e-8d5e-4f59-9a52-6f2f3f0b1c11',
  ts: '2025-01-02T03:04:05.678Z',
  method: 'POST',
  url: '/orders?x=1',
  headers: { 'content-type': 'application/json', 'set-cookie': ['a', 'b'] },
  body: Buffer.from('{"a":1}').toString('base64'),
  body_truncated: false,
  version: 'canary',
  status: 201,
  response_headers: { 'content-type': 'application/json' },
  response_body: Buffer.from('{"ok":true}').toString('base64'),
  response_body_truncated: false,
  duration_ms: 3.25,
};

describe('readRecordings', () => {
  it('reads v1 lines as they are', async () => {
    const file = join(await tempDir(), 'v1.jsonl');
    await writeFile(file, `${JSON.stringify(V1)}\n`);
    expect(await collect([file])).toEqual([{ file, line: 1, record: { ...V1, format: 'v1' } }]);
  });

  it('fills what an older or hand-written v1 line lacks with null/false', async () => {
    const file = join(await tempDir(), 'min.jsonl');
    await writeFile(file, `${JSON.stringify({ v: 1, method: 'get', url: '/' })}\n`);
    expect(await collect([file])).toEqual([
      {
        file,
        line: 1,
        record: {
          format: 'v1',
          v: 1,
          id: 'min.jsonl:1',
          ts: null,
          method: 'GET',
          url: '/',
          headers: {},
          body: '',
          body_truncated: false,
          version: null,
          status: null,
          response_headers: null,
          response_body: null,
          response_body_truncated: false,
          duration_ms: null,
        },
      },
    ]);
  });

  it('normalizes hex-body lines to the v1 shape', async () => {
    const file = join(await tempDir(), 'py.jsonl');
    const lines = [
      {
        method: 'post',
        path: '/api/x?y=1',
        headers: { 'Content-Type': 'application/json' },
        body_hex: '7b2261223a317d',
        timestamp: 1735787045.5,
      },
      {
        method: 'GET',
        path: 'http://svc:8080/a/b?c=d',
        headers: [
          ['Accept', '*/*'],
          ['X-A', '1'],
          ['x-a', '2'],
          ['X-A', '3'],
        ],
        body_hex: '',
        timestamp: '2025-01-02T03:04:05Z',
      },
      { method: 'PUT', path: '/ms', body_hex: 'FF00', timestamp: 1735787045500 },
      { method: 'DELETE', path: '/ns', timestamp: 1735787045500000000, id: 'own-id' },
      { method: 'GET', path: '/none', body_hex: null },
    ];
    await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const out = await collect([file]);
    expect(out.map((e) => ('error' in e ? e.error : ''))).toEqual(['', '', '', '', '']);
    const records = out.map((e) => ('record' in e ? e.record : undefined)!);
    expect(records[0]).toEqual({
      format: 'hex',
      v: 1,
      id: 'py.jsonl:1',
      ts: '2025-01-02T03:04:05.500Z',
      method: 'POST',
      url: '/api/x?y=1',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{"a":1}').toString('base64'),
      body_truncated: false,
      version: null,
      status: null,
      response_headers: null,
      response_body: null,
      response_body_truncated: false,
      duration_ms: null,
    });
    expect(records[1]).toMatchObject({
      url: '/a/b?c=d',
      headers: { Accept: '*/*', 'X-A': ['1', '3'], 'x-a': '2' },
      body: '',
      ts: '2025-01-02T03:04:05.000Z',
    });
    expect(records[2]).toMatchObject({
      body: Buffer.from([0xff, 0]).toString('base64'),
      ts: '2025-01-02T03:04:05.500Z',
    });
    expect(records[3]).toMatchObject({ id: 'own-id', ts: '2025-01-02T03:04:05.500Z', body: '' });
    expect(records[4]).toMatchObject({ ts: null, body: '' });
  });

  it('reports malformed lines with file and line number, skips them and blank lines, keeps going', async () => {
    const dir = await tempDir();
    const file = join(dir, 'bad.jsonl');
    const text = [
      JSON.stringify(V1), // 1
      '', // 2: blank
      '{not json', // 3
      '   ', // 4: blank
      '[1,2]', // 5
      JSON.stringify({ v: 2, method: 'GET', url: '/' }), // 6
      JSON.stringify({ v: 1, method: 'GET' }), // 7
      JSON.stringify({ v: 1, method: 'G ET', url: '/' }), // 8
      JSON.stringify({ v: 1, method: 'GET', url: '/', body: 'not base64!' }), // 9
      JSON.stringify({ v: 1, method: 'GET', url: '/', headers: { a: { b: 1 } } }), // 10
      JSON.stringify({ method: 'GET', path: '/', body_hex: 'abc' }), // 11
      JSON.stringify({ method: 'GET', path: '/', timestamp: 'yesterday' }), // 12
      JSON.stringify({ method: 'GET', path: 'relative' }), // 13
      JSON.stringify({ hello: 'world' }), // 14
      JSON.stringify({ ...V1, id: 'last' }), // 15
    ].join('\n');
    await writeFile(file, `${text}\n`);
    const out = await collect([file]);
    expect(out.map((e) => [e.line, 'error' in e ? e.error : `ok ${e.record.id}`])).toEqual([
      [1, `ok ${V1.id}`],
      [3, expect.stringMatching(/^malformed JSON: /)],
      [5, 'not a JSON object'],
      [6, 'v: unsupported format version 2 (this reader knows 1)'],
      [7, 'url: must be a non-empty string'],
      [8, 'method: must be an HTTP method'],
      [9, 'body: must be base64'],
      [10, 'headers.a: must be a string or a list of strings'],
      [11, 'body_hex: must be hex digits, two per byte'],
      [12, 'timestamp: must be a date or an epoch time'],
      [13, 'path: must start with / or be an absolute URL'],
      [14, 'neither a v1 record (no "v") nor a hex-body record (no "path"/"body_hex")'],
      [15, 'ok last'],
    ]);
    expect(out.every((e) => e.file === file)).toBe(true);
  });

  it('handles CRLF, a BOM, a missing final newline and a truncated last line', async () => {
    const dir = await tempDir();
    const crlf = join(dir, 'crlf.jsonl');
    await writeFile(crlf, `\uFEFF${JSON.stringify(V1)}\r\n\r\n${JSON.stringify({ ...V1, id: 'b' })}`);
    expect((await collect([crlf])).map((e) => ('record' in e ? e.record.id : e.error))).toEqual([V1.id, 'b']);

    const cut = join(dir, 'cut.jsonl');
    const whole = JSON.stringify(V1);
    await writeFile(cut, `${whole}\n${whole.slice(0, 40)}`);
    const out = await collect([cut]);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ file: cut, line: 2 });
    expect((out[1] as { error: string }).error).toMatch(
      /^truncated last line \(no newline at end of file\): /,
    );
  });

  it('streams large files: lines across chunk boundaries, in order', async () => {
    const file = join(await tempDir(), 'big.jsonl');
    const n = 3000;
    const pad = 'x'.repeat(997); // lines of ~1.3 KB: many straddle the 64 KiB read chunks
    const text = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ ...V1, id: `r${i}`, headers: { pad } }),
    ).join('\n');
    await writeFile(file, `${text}\n`);
    let i = 0;
    for await (const entry of readRecordings([file])) {
      if ('error' in entry) throw new Error(entry.error);
      expect(entry.record.id).toBe(`r${i}`);
      expect(entry.line).toBe(i + 1);
      i++;
    }
    expect(i).toBe(n);
  });

  it('skips a line longer than maxLineBytes without holding it', async () => {
    const file = join(await tempDir(), 'long.jsonl');
    await writeFile(
      file,
      `${JSON.stringify(V1)}\n"${'y'.repeat(5000)}"\n${JSON.stringify({ ...V1, id: 'after' })}\n${'z'.repeat(5000)}`,
    );
    const out = await collect([file], { maxLineBytes: 1000 });
    expect(out.map((e) => [e.line, 'error' in e ? e.error : e.record.id])).toEqual([
      [1, V1.id],
      [2, 'line longer than 1000 bytes, skipped'],
      [3, 'after'],
      [4, 'line longer than 1000 bytes, skipped'],
    ]);
  });

  it('reads several files in order and reports one it cannot open', async () => {
    const dir = await tempDir();
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    await writeFile(a, `${JSON.stringify({ ...V1, id: 'a1' })}\n`);
    await writeFile(b, `${JSON.stringify({ ...V1, id: 'b1' })}\n`);
    const missing = join(dir, 'missing.jsonl');
    const out = await collect([a, missing, b]);
    expect(out.map((e) => [e.file, e.line, 'record' in e ? e.record.id : e.error.slice(0, 12)])).toEqual([
      [a, 1, 'a1'],
      [missing, 0, 'cannot read:'],
      [b, 1, 'b1'],
    ]);
  });
});

describe('recordingFiles', () => {
  it('lists a rotated recording oldest first, only files that exist', async () => {
    const dir = await tempDir();
    for (const name of [
      'rec.jsonl',
      'rec.jsonl.1',
      'rec.jsonl.2',
      'rec.jsonl.10',
      'rec.jsonl.bak',
      'other.jsonl.1',
    ])
      await writeFile(join(dir, name), '');
    expect(await recordingFiles(join(dir, 'rec.jsonl'))).toEqual([
      join(dir, 'rec.jsonl.10'),
      join(dir, 'rec.jsonl.2'),
      join(dir, 'rec.jsonl.1'),
      join(dir, 'rec.jsonl'),
    ]);
    expect(await recordingFiles(join(dir, 'nothing.jsonl'))).toEqual([]);
    expect(await recordingFiles(join(dir, 'no-dir', 'x.jsonl'))).toEqual([]);
  });
});
