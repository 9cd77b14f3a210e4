import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';

/**
 * Documentation blocks are written as people would write them: `app.listen(3000)`, an upstream at
 * `http://checkout-v2.internal:8080`. To run them unchanged, a test
 *  - turns every `listen` on port 3000 into a listen on port 0 (a free port) on 127.0.0.1 and remembers the
 *    server, so the harness can send requests to it and close it;
 *  - starts one local server per `*.internal` host a block names and points the block at it.
 */

const DOC_PORT = 3000;
const listened: net.Server[] = [];
let patched = false;

export function interceptDocPort(): void {
  if (patched) return;
  patched = true;
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]) {
    const first = args[0];
    if (first === DOC_PORT || first === String(DOC_PORT)) {
      args[0] = 0;
      // `listen(port, host?, cb?)`: a host given by the block is kept out; 127.0.0.1 is what tests reach.
      if (typeof args[1] === 'string') args.splice(1, 1);
      args.splice(1, 0, '127.0.0.1');
      listened.push(this);
    } else if (first && typeof first === 'object' && (first as { port?: unknown }).port === DOC_PORT) {
      args[0] = { ...(first as object), port: 0, host: '127.0.0.1' };
      listened.push(this);
    }
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof net.Server.prototype.listen;
}

/** Servers the blocks started on "port 3000" since the last call, once they are listening. */
export async function takeListened(): Promise<net.Server[]> {
  const servers = listened.splice(0);
  for (const server of servers) {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  }
  return servers;
}

export function urlOf(server: net.Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export async function closeServer(server: net.Server): Promise<void> {
  if (!server.listening) return;
  (server as Server).closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A stand-in for a service a block names (`http://orders-v2.internal:8080`): answers JSON, keeps what it saw. */
export interface FakeService {
  readonly host: string;
  readonly url: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export async function fakeService(host: string): Promise<FakeService> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ handler: `service:${host}`, method: req.method, url: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host, url: urlOf(server), seen, close: () => closeServer(server) };
}

/** `http://<name>.internal:<port>` in a block. */
export const INTERNAL_URL = /http:\/\/([\w-]+\.internal)(?::\d+)?/g;

/** `redis://<name>.internal:<port>` in a block: a real redis-server started for it. */
export const REDIS_URL = /redis:\/\/([\w-]+\.internal)(?::\d+)?/g;
