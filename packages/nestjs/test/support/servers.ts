/**
 * Real servers on 127.0.0.1:0 for the shadow-target and upstream tests — well-behaved ones and misbehaving
 * ones (hung, slow, resetting, refusing, answering garbage or 50 MB) — and small request helpers.
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

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** A deterministic payload of `size` bytes (not all one byte, so truncation and reordering show). */
export function payload(size: number, seed = 7): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** Reads a stream to its end; an already-ended one gives nothing. */
export async function readAll(stream: IncomingMessage): Promise<Buffer> {
  if (stream.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Polls `check` every 10 ms until it holds (10 s at most). */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TestServer {
  readonly url: string;
  /** Requests whose bodies were read in full. */
  readonly received: Received[];
  /** Requests that arrived (before their body was read). */
  readonly arrived: () => number;
  close(): Promise<void>;
}

function closeServer(server: Server | NetServer, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function listen(server: Server | NetServer, sockets: Set<Socket>): Promise<string> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A node:http server; `handler` gets the request with its body read. */
export async function serve(
  handler: (req: Received, res: ServerResponse) => void | Promise<void>,
): Promise<TestServer> {
  const received: Received[] = [];
  let arrived = 0;
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    arrived++;
    const body = await readAll(req);
    const entry = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    received.push(entry);
    await handler(entry, res);
  });
  const url = await listen(server, sockets);
  return { url, received, arrived: () => arrived, close: () => closeServer(server, sockets) };
}

/** Accepts requests and never answers them. */
export function hungServer(): Promise<TestServer> {
  return serve(() => {});
}

/** Answers after `delayMs` with `answer`. */
export function slowServer(
  delayMs: number,
  answer: (req: Received, res: ServerResponse) => void,
): Promise<TestServer> {
  return serve(
    (req, res) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          answer(req, res);
          resolve();
        }, delayMs),
      ),
  );
}

/** A raw TCP server: `onData` gets every connection's first bytes (resetting, garbage). */
async function rawServer(onData: (socket: Socket, arrived: () => void) => void): Promise<TestServer> {
  let arrived = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    socket.once('data', () => onData(socket, () => arrived++));
    socket.on('error', () => {});
  });
  const url = await listen(server, sockets);
  return { url, received: [], arrived: () => arrived, close: () => closeServer(server, sockets) };
}

/** Resets every connection (TCP RST) as soon as a request arrives. */
export function resettingServer(): Promise<TestServer> {
  return rawServer((socket, arrived) => {
    arrived();
    socket.resetAndDestroy();
  });
}

/** Answers every request with bytes that are not HTTP, then closes. */
export function garbageServer(): Promise<TestServer> {
  return rawServer((socket, arrived) => {
    arrived();
    socket.end('\u0000\u00ffthis is not HTTP at all\r\n\r\n\u0007garbage');
  });
}

/** A URL where nothing listens: connections are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Answers every request with `size` bytes, streamed in 64 KiB chunks. */
export function bigBodyServer(size: number): Promise<TestServer> {
  const chunk = payload(64 * 1024, 3);
  return serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const piece = size - sent >= chunk.length ? chunk : chunk.subarray(0, size - sent);
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
}

/** The bytes `bigBodyServer(size)` sends. */
export function bigBodySha(size: number): string {
  const chunk = payload(64 * 1024, 3);
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; sent += chunk.length) {
    hash.update(size - sent >= chunk.length ? chunk : chunk.subarray(0, size - sent));
  }
  return hash.digest('hex');
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One request over node:http. `chunks` sends the body in pieces with `Transfer-Encoding: chunked` (no
 * Content-Length), yielding to the event loop between them.
 */
export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    chunks?: readonly Buffer[];
    agent?: Agent;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const init = { method: options.method ?? 'GET', headers, agent: options.agent };
    const req = httpRequest(url, init, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunks !== undefined) {
      const pieces = [...options.chunks];
      const next = () => {
        const piece = pieces.shift();
        if (piece === undefined) req.end();
        else req.write(piece, () => setImmediate(next));
      };
      next();
    } else req.end(options.body);
  });
}

/** `send` whose answer is JSON. */
export async function sendJson<T = any>(
  url: string,
  options: Parameters<typeof send>[1] = {},
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
