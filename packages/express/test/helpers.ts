import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Running {
  readonly base: string;
  close(): Promise<void>;
}

/** Serves `app` on an ephemeral port of 127.0.0.1. */
export async function serve(app: RequestListener): Promise<Running> {
  const server: Server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export { findSamples as find, sampleValue as value, scrape } from '../../../test/helpers/exposition.js';
