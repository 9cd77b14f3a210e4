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
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';

/** Real servers for shadow targets and upstreams, well-behaved and not, on 127.0.0.1:0. */

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

const patterns = new Map<string, Buffer>();

/**
 * Deterministic, non-repeating-looking bytes (not all zeros: a lost or shifted chunk changes the checksum).
 * Large ones are generated once and shared: never write into the result.
 */
export function pattern(size: number, seed = 1): Buffer {
  const key = `${size}:${seed}`;
  const cached = patterns.get(key);
  if (cached !== undefined) return cached;
  const bytes = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  if (size >= 1024 * 1024) patterns.set(key, bytes);
  return bytes;
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TestServer {
  readonly url: string;
  /** Requests whose body was read to its end. */
  readonly received: Received[];
  /** Connections or requests accepted, answered or not. */
  accepted: number;
  close(): Promise<void>;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the message was cut short'));
    });
  });
}

async function listenOn(server: Server | TcpServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An HTTP server; `answer` gets the request with its body read. */
export async function httpServer(
  answer: (req: Received, res: ServerResponse) => void | Promise<void>,
): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer();
  const state: TestServer = {
    url: '',
    received,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    state.accepted++;
    readBody(req).then(
      async (body) => {
        const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        received.push(r);
        await answer(r, res);
      },
      () => res.destroy(),
    );
  });
  (state as { url: string }).url = await listenOn(server);
  return state;
}

/** Accepts connections, reads what comes, never answers. */
export async function hungServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const state: TestServer = {
    url: '',
    received: [],
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  (state as { url: string }).url = await listenOn(server);
  return state;
}

/** Accepts each connection, then resets it (RST) as soon as the request starts arriving. */
export async function resettingServer(): Promise<TestServer> {
  const server = createTcpServer((socket) => {
    state.accepted++;
    socket.on('error', () => {});
    socket.once('data', () => socket.resetAndDestroy());
  });
  const state: TestServer = {
    url: '',
    received: [],
    accepted: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  (state as { url: string }).url = await listenOn(server);
  return state;
}

/** Answers every request with bytes that are not HTTP, then closes. */
export async function garbageServer(): Promise<TestServer> {
  const server = createTcpServer((socket) => {
    state.accepted++;
    socket.on('error', () => {});
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n'));
  });
  const state: TestServer = {
    url: '',
    received: [],
    accepted: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  (state as { url: string }).url = await listenOn(server);
  return state;
}

/** A URL nothing listens on: connections are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createTcpServer();
  const url = await listenOn(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

/** Streams `size` bytes of `pattern(size, seed)` as the answer, in 64 KiB writes honouring backpressure. */
export async function writeLarge(res: ServerResponse, size: number, seed = 7): Promise<void> {
  const bytes = pattern(size, seed);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  for (let offset = 0; offset < size; offset += 65_536) {
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
      if (res.destroyed) return;
    }
  }
  res.end();
}

export interface ClientResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A Buffer is sent with Content-Length; an array of Buffers is sent chunked, one write each. */
  body?: Buffer | Buffer[];
  agent?: Agent;
}

/** One request with node:http (exact control over framing: Content-Length or chunked). */
export function send(url: string, options: SendOptions = {}): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const { body } = options;
    const headers: Record<string, string> = { ...options.headers };
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers, agent: options.agent },
      (res) => {
        readBody(res).then(
          (bytes) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes }),
          reject,
        );
      },
    );
    req.on('error', reject);
    if (Array.isArray(body)) {
      req.flushHeaders();
      (async () => {
        for (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(reject);
    } else req.end(body);
  });
}

/** Polls until `check` holds (10 s at most). */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Collects a Fastify logger's JSON lines: `Fastify({ logger: { level: 'warn', stream: logs } })`. */
export class LogLines {
  readonly lines: { level: number; msg: string }[] = [];
  write(line: string): void {
    this.lines.push(JSON.parse(line));
  }
  matching(text: string): number {
    return this.lines.filter((l) => l.msg?.includes(text)).length;
  }
}
