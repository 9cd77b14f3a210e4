import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Canary, type CanaryConfig, createCanary, Registry, RequestBinding } from '@canary-kit/core';

export const FLAG = 'checkout';

export interface Served {
  requests: number;
  errors: number;
}

export interface Behaviour {
  /** Status of the canary's n-th request (from 0). Default 200. */
  readonly canaryStatus?: (n: number) => number;
  /** Planted canary latency, ms. */
  readonly canaryDelayMs?: number;
  /** The route pattern `/checkout` is labelled with. Default `/checkout`. */
  readonly route?: string;
}

export interface MetricsService {
  readonly canary: Canary;
  /** `host:port`, the scrape target. */
  readonly target: string;
  readonly base: string;
  /** What the handlers answered on `/checkout`, by the version that served it: the ground truth. */
  readonly served: { stable: Served; canary: Served };
  /** Unbound-route requests served (labelled with the service version, `stable`). */
  readonly other: Served;
  /** Sends `n` requests to `/checkout` from distinct users, at most 20 at a time. */
  drive(n: number, path?: string): Promise<void>;
  close(): Promise<void>;
}

let userSeq = 0;

/**
 * A real service as an adapter runs one: a Canary with metrics on its own Registry, `/checkout` bound to the
 * flag through RequestBinding (the request's version labels the histogram), `/other` bound to no flag, and
 * `/metrics` with the registry's exposition for Prometheus to scrape.
 */
export async function metricsService(
  config: CanaryConfig,
  behaviour: Behaviour = {},
): Promise<MetricsService> {
  const registry = new Registry();
  const canary = createCanary({ metrics: { registry }, ...config });
  const binding = new RequestBinding(canary, {
    context: (req: IncomingMessage) => ({ userId: req.headers['x-user'] as string }),
  });
  const served = { stable: { requests: 0, errors: 0 }, canary: { requests: 0, errors: 0 } };
  const other = { requests: 0, errors: 0 };
  let canaryN = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.setHeader('content-type', registry.contentType);
          res.end(text);
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
      return;
    }
    const state = binding.start(req, req.headers, false);
    if (req.url === '/other') {
      res.on('finish', () => binding.finish(state, 'GET', '/other', res.statusCode));
      other.requests++;
      res.end('other');
      return;
    }
    const version = state.canary.evaluate(FLAG).version;
    res.on('finish', () =>
      binding.finish(state, 'GET', behaviour.route ?? '/checkout', res.statusCode, FLAG),
    );
    const count = served[version];
    count.requests++;
    if (version === 'stable') {
      res.end('v1');
      return;
    }
    const status = behaviour.canaryStatus?.(canaryN++) ?? 200;
    if (status >= 500) count.errors++;
    const answer = () => {
      res.statusCode = status;
      res.end('v2');
    };
    if (behaviour.canaryDelayMs) setTimeout(answer, behaviour.canaryDelayMs);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  const drive = async (n: number, path = '/checkout') => {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const res = await fetch(`${base}${path}`, { headers: { 'x-user': `user-${userSeq++}` } });
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: Math.min(20, n) }, worker));
  };

  return {
    canary,
    target: `127.0.0.1:${port}`,
    base,
    served,
    other,
    drive,
    async close() {
      await canary.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Resolves when `check` passes, polling every 20 ms; never a fixed sleep. Rejects naming `what` on timeout. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
