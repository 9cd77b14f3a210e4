import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';

/** Real servers standing in for shadow targets and upstreams, well-behaved or not. */

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Deterministic bytes (not all alike, so an offset error shows). */
export function payload(size: number, seed = 7): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Polls `check` until it holds (10 s at most). */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TestServer {
  readonly url: string;
  /** Requests whose body was read to the end. */
  readonly seen: Seen[];
  /** Requests that arrived (headers received). */
  received: number;
  /** Responses this server has finished sending. */
  answered: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, server: TestServer) => void;

/** A node:http server on 127.0.0.1:0 that reads each request body, then calls `handler`. */
export async function httpServer(handler: Handler, readBody = true): Promise<TestServer> {
  const server: Server = createServer();
  const state: TestServer = {
    url: '',
    seen: [],
    received: 0,
    answered: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    state.received++;
    res.once('finish', () => state.answered++);
    if (!readBody) {
      handler(req, res, Buffer.alloc(0), state);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      state.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body, state);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** Accepts every request, reads it, and never answers. */
export const hungServer = (): Promise<TestServer> => httpServer(() => {});

/** Answers with `respond` after `ms`. */
export const slowServer = (ms: number, respond: Handler): Promise<TestServer> =>
  httpServer((req, res, body, server) => {
    setTimeout(() => respond(req, res, body, server), ms);
  });

/** Resets the connection (TCP RST) as soon as a request arrives. */
export const resettingServer = (): Promise<TestServer> =>
  httpServer((req) => {
    (req.socket as Socket).resetAndDestroy();
  }, false);

/** A URL nothing listens on: connections are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** A TCP server answering every connection with bytes that are not HTTP. */
export async function garbageServer(): Promise<{ url: string; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { url: '', connections: 0, close: async () => {} };
  const server = createTcpServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6 not http at all\r\n\r\n\u0000\u0001garbage'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** Writes `size` bytes of `chunk` repeated, respecting backpressure; resolves when done or the client left. */
export async function writeRepeated(res: ServerResponse, chunk: Buffer, size: number): Promise<void> {
  let sent = 0;
  while (sent < size && !res.destroyed) {
    const piece = size - sent >= chunk.length ? chunk : chunk.subarray(0, size - sent);
    sent += piece.length;
    if (!res.write(piece)) {
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
