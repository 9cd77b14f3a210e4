import type { Canary } from '@canary-kit/core';
import type { FastifyInstance } from 'fastify';

export { sampleValue, scrape } from '../../../test/helpers/exposition.js';

/** Starts the app on an ephemeral port on 127.0.0.1 and returns its base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** Closes what a test opened, apps first (their in-flight requests still use the Canary), in afterEach. */
export class Cleanup {
  #apps: FastifyInstance[] = [];
  #canaries: Canary[] = [];

  app<T extends FastifyInstance>(app: T): T {
    this.#apps.push(app);
    return app;
  }

  canary<T extends Canary>(canary: T): T {
    this.#canaries.push(canary);
    return canary;
  }

  async run(): Promise<void> {
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
