import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  captureRequestBody,
  captureResponseBody,
  createCanary,
  RequestBinding,
  readRecordings,
} from '@canary-kit/core';
import { afterEach, describe, expect, it } from 'vitest';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('the recorder through the request binding (what every adapter uses)', () => {
  it('records sampled exchanges, redacted, with the serving version; close() flushes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canary-kit-record-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'requests.jsonl');
    const canary = createCanary({
      flags: { f: { percentage: 100 } },
      recorder: { path, sampleRate: 1, withResponse: true, redact: { fields: ['$.card.number'] } },
    });
    const binding = new RequestBinding(canary, {
      context: (req: IncomingMessage) => ({ userId: req.headers['x-user'] as string }),
    });
    const server = createServer((req, res) => {
      const state = binding.start(req, req.headers, false, req.method, req.url);
      if (state.capture) {
        captureRequestBody(req, state.capture);
        captureResponseBody(res, state.capture);
      }
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('set-cookie', 'session=SECRET-COOKIE');
        res.on('finish', () =>
          binding.finish(state, req.method ?? 'GET', '/pay', res.statusCode, 'f', {
            url: req.url ?? '/',
            requestHeaders: req.headers,
            responseHeaders: () => res.getHeaders() as Record<string, string>,
          }),
        );
        res.end('{"ok":true,"token":"SECRET-TOKEN-OUT"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await fetch(`${url}/pay?api_key=SECRET-QUERY&x=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer SECRET-AUTH', 'content-type': 'application/json', 'x-user': 'u1' },
      body: JSON.stringify({
        amount: 5,
        password: 'SECRET-PASSWORD',
        card: { number: 'SECRET-CARD', brand: 'visa' },
      }),
    });
    await new Promise((r) => server.close(r));
    await canary.close();

    const files = await readdir(dir);
    const bytes = (await Promise.all(files.map((f) => readFile(join(dir, f)))))
      .map((b) => b.toString('latin1'))
      .join('');
    for (const secret of [
      'SECRET-AUTH',
      'SECRET-QUERY',
      'SECRET-PASSWORD',
      'SECRET-CARD',
      'SECRET-COOKIE',
      'SECRET-TOKEN-OUT',
    ]) {
      expect(bytes).not.toContain(secret);
      expect(Buffer.from(bytes, 'latin1').toString('utf8')).not.toContain(secret);
    }
    const lines = [];
    for await (const line of readRecordings([path])) lines.push(line);
    expect(lines).toHaveLength(1);
    const record = (lines[0] as unknown as { record: Record<string, unknown> }).record;
    expect(record).toMatchObject({ v: 1, method: 'POST', version: 'canary', status: 200 });
    const body = JSON.parse(Buffer.from(record.body as string, 'base64').toString());
    expect(body).toEqual({
      amount: 5,
      password: '[REDACTED]',
      card: { number: '[REDACTED]', brand: 'visa' },
    });
    expect(canary.stats().recorder).toMatchObject({ written: 1, dropped: 0, error: 0 });
  });
});
