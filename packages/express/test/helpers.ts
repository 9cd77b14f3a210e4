import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { type Canary, type CanaryConfig, createCanary, Registry } from '@canary-kit/core';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, expect, it } from 'vitest';

export { findSamples as find, sampleValue as value, scrape } from '../../../test/helpers/exposition.js';

type ExpressFactory = typeof express5;

/** The `describe.each` rows of the suites that run on both majors: name, factory, module. */
export const EXPRESS_MAJORS: [name: string, express: ExpressFactory, module: string][] = [
  ['Express 5', express5, 'express'],
  ['Express 4', express4 as ExpressFactory, 'express4'],
];

const require = createRequire(import.meta.url);

/** The first test of a `describe.each(EXPRESS_MAJORS)` block: it runs against the major it is named for. */
export function itRunsAgainst(name: string, module: string): void {
  it('runs against that major version', () => {
    const { version } = require(`${module}/package.json`) as { version: string };
    expect(`Express ${version.split('.')[0]}`).toBe(name);
  });
}

interface Closable {
  close(): Promise<unknown>;
}

/**
 * What a test opens, closed after each test: the servers standing in for shadow targets and upstreams first
 * (a Canary's close() waits for the copies still in flight to a hung one), then apps and Canaries, last
 * opened first. Call once at the top of a test file.
 */
export function closeAfterEach() {
  const targets: Closable[] = [];
  const open: Closable[] = [];
  afterEach(async () => {
    for (const item of targets.splice(0)) await item.close();
    for (const item of open.splice(0).reverse()) await item.close();
  });

  /** Closed after the test, in reverse order, once the targets are. */
  function later<T extends Closable>(item: T): T {
    open.push(item);
    return item;
  }

  return {
    later,

    /** A Canary with its own metrics registry. */
    canaryFor: (config: CanaryConfig): Canary =>
      later(createCanary({ metrics: { registry: new Registry() }, ...config })),

    /** A target or upstream server, closed before anything else. */
    async target<T extends Closable>(server: Promise<T>): Promise<T> {
      const s = await server;
      targets.push(s);
      return s;
    },

    /** Serves `app` on an ephemeral port of 127.0.0.1; its base URL. */
    async start(app: RequestListener): Promise<string> {
      const server = createServer(app);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      later({
        close: () =>
          new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()));
            server.closeAllConnections();
          }),
      });
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}
