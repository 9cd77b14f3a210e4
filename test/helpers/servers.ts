/**
 * Real servers on 127.0.0.1:0 standing in for shadow targets and upstreams — well-behaved ones and
 * misbehaving ones (hung, slow, resetting, refusing, answering garbage or 50 MB) — and the client side the
 * adapter suites drive them with: requests with exact framing (Content-Length or chunked), deterministic
 * payloads and their checksums.
 */
import { createHash } from 'node:crypto';
import {
  type Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

export { until } from '../../packages/core/test/support/until.js';

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

const payloads = new Map<string, Buffer>();

/**
 * `size` deterministic bytes (xorshift32 from `seed`): not all alike, so a lost, shifted or reordered chunk
 * changes the checksum. Those of 1 MiB and more are generated once and shared: never write into the result.
 */
export function payload(size: number, seed = 7): Buffer {
  const key = `${size}:${seed}`;
  const cached = payloads.get(key);
  if (cached !== undefined) return cached;
  const bytes = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  if (size >= 1024 * 1024) payloads.set(key, bytes);
  return bytes;
}

/** Reads a request or response to its end; an already-ended one gives nothing, one cut short rejects. */
export async function readAll(stream: IncomingMessage): Promise<Buffer> {
  if (stream.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  if (!stream.complete) throw new Error('the message was cut short');
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** A request as a test server received it, body read to its end. */
export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TestServer {
  readonly url: string;
  /** Requests whose body was read to its end, in that order. */
  readonly received: Received[];
  /** Requests that arrived (headers read; for the raw TCP servers, connections that sent bytes). */
  arrived(): number;
  /** Responses this server finished sending. */
  answered(): number;
  /** Requests whose body the client abandoned before its end (never handed to the handler). */
  cutShort(): number;
  /** Destroys open connections, then stops listening. */
  close(): Promise<void>;
}

export type Handler = (req: Received, res: ServerResponse, server: TestServer) => void | Promise<void>;

interface Counts {
  arrived: number;
  answered: number;
  cutShort: number;
}

/** Listens on 127.0.0.1:0, keeping track of open connections so that `close()` can end them. */
async function listen(server: Server | NetServer, counts: Counts, received: Received[]): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    arrived: () => counts.arrived,
    answered: () => counts.answered,
    cutShort: () => counts.cutShort,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A node:http server; `handler` gets each request once its body is read (a request cut short never). */
export async function serve(handler: Handler): Promise<TestServer> {
  const counts: Counts = { arrived: 0, answered: 0, cutShort: 0 };
  const received: Received[] = [];
  const server = createServer();
  const state = await listen(server, counts, received);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    counts.arrived++;
    res.once('finish', () => counts.answered++);
    readAll(req).then(
      async (body) => {
        const entry = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
        received.push(entry);
        await handler(entry, res, state);
      },
      () => {
        counts.cutShort++;
        res.destroy();
      },
    );
  });
  return state;
}

/** Reads every request and never answers it. */
export const hungServer = (): Promise<TestServer> => serve(() => {});

/** Answers with `answer` `ms` after the request body was read. */
export const slowServer = (ms: number, answer: Handler): Promise<TestServer> =>
  serve(
    (req, res, server) =>
      new Promise<void>((resolve) => setTimeout(() => resolve(answer(req, res, server)), ms)),
  );

/** A raw TCP server: `onData` gets each connection on its first bytes (counted as an arrival). */
function rawServer(onData: (socket: Socket) => void): Promise<TestServer> {
  const counts: Counts = { arrived: 0, answered: 0, cutShort: 0 };
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      counts.arrived++;
      onData(socket);
    });
  });
  return listen(server, counts, []);
}

/** Resets every connection (TCP RST) as soon as a request starts arriving. */
export const resettingServer = (): Promise<TestServer> => rawServer((socket) => socket.resetAndDestroy());

/** Answers every request with bytes that are not HTTP, then closes. */
export const garbageServer = (): Promise<TestServer> =>
  rawServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6 not http at all\r\n\r\n\u0000\u0001garbage'));

/** A URL nothing listens on: connections are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Writes `bytes` in 64 KiB pieces honouring backpressure; resolves when written or when the client left. */
export async function writeAll(res: ServerResponse, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length && !res.destroyed; offset += 65_536) {
    if (!res.write(bytes.subarray(offset, offset + 65_536))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
}

/** Answers `payload(size, seed)` with a Content-Length, streamed in 64 KiB writes honouring backpressure. */
export async function writeLarge(
  res: ServerResponse,
  size: number,
  seed = 7,
  contentType = 'application/octet-stream',
): Promise<void> {
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(size) });
  await writeAll(res, payload(size, seed));
  if (!res.destroyed) res.end();
}

/** Answers every request with `payload(size, seed)` (see `writeLarge`). */
export const bigBodyServer = (size: number, seed = 7): Promise<TestServer> =>
  serve((_req, res) => writeLarge(res, size, seed));

/** The checksum of what `bigBodyServer(size, seed)` sends. */
export const bigBodySha = (size: number, seed = 7): string => sha256(payload(size, seed));

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The request went out on a kept-alive connection an earlier request used. */
  readonly reused: boolean;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /**
   * A Buffer or string is sent with Content-Length; an array of Buffers with `Transfer-Encoding: chunked`,
   * one write each, yielding to the event loop between them.
   */
  body?: Buffer | string | readonly Buffer[];
  agent?: Agent;
}

/** One request over node:http (exact framing, hop-by-hop headers allowed); the answer read whole. */
export function send(url: string, options: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const { body } = options;
    const headers: Record<string, string> = { ...options.headers };
    if (typeof body === 'string' || Buffer.isBuffer(body))
      headers['content-length'] = String(Buffer.byteLength(body));
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers, agent: options.agent },
      (res) => {
        readAll(res).then(
          (bytes) =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: bytes,
              reused: req.reusedSocket,
            }),
          reject,
        );
      },
    );
    req.on('error', reject);
    if (Array.isArray(body)) {
      const pieces = [...body];
      const next = () => {
        const piece = pieces.shift();
        if (piece === undefined) req.end();
        else req.write(piece, () => setImmediate(next));
      };
      next();
    } else req.end(body as Buffer | string | undefined);
  });
}

/** `send` whose answer is JSON (or, when it does not parse, its text). */
export async function sendJson<T = any>(
  url: string,
  options: SendOptions = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: T }> {
  const answer = await send(url, options);
  const text = answer.body.toString('utf8');
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: answer.status, headers: answer.headers, body };
}
