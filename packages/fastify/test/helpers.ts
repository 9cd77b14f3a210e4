import type { Canary } from '@canary-kit/core';
import type { FastifyInstance } from 'fastify';
import type { TestServer } from '../../../test/helpers/servers.js';

export { sampleValue, scrape } from '../../../test/helpers/exposition.js';

/** Starts the app on an ephemeral port on 127.0.0.1 and returns its base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/**
 * Closes what a test opened, in afterEach: the servers standing in for shadow targets and upstreams first
 * (closing the Canary waits for copies in flight, which a hung target would hold for a minute), then apps
 * (their in-flight requests still use the Canary), then Canaries.
 */
export class Cleanup {
  #servers: TestServer[] = [];
  #apps: FastifyInstance[] = [];
  #canaries: Canary[] = [];

  async server(make: Promise<TestServer>): Promise<TestServer> {
    const server = await make;
    this.#servers.push(server);
    return server;
  }

  app<T extends FastifyInstance>(app: T): T {
    this.#apps.push(app);
    return app;
  }

  canary<T extends Canary>(canary: T): T {
    this.#canaries.push(canary);
    return canary;
  }

  async run(): Promise<void> {
    await Promise.all(this.#servers.splice(0).map((s) => s.close()));
    const apps = this.#apps.splice(0);
    const canaries = this.#canaries.splice(0);
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(canaries.map((c) => c.close()));
  }
}

/** The `name=value` part of each Set-Cookie header of a response. */
export function cookiePairs(res: Response): string[] {
  return res.headers.getSetCookie().map((c) => c.split(';')[0]!);
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
