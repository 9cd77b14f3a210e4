import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Canary } from '@canary-kit/core';

export { until } from '../../core/test/support/until.js';

/** A real HTTP service that decides every request with `canary` (the request path the store must never touch). */
export async function serve(canary: Canary, flag: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anonymous';
    const decision = canary.evaluate(flag, { userId: user });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version: decision.version, percentage: canary.getFlag(flag)?.percentage }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Collects unhandled rejections while a test runs. */
export function watchUnhandled(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const onRejection = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', onRejection);
  return { reasons, stop: () => process.off('unhandledRejection', onRejection) };
}
