import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrometheus } from '../../../test/helpers/prometheus-server.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real /metrics endpoint serving one counter. */
async function exporter(value: number): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE probe_total counter\nprobe_total ${value}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('test/helpers/prometheus-server', () => {
  it('starts on an ephemeral port, scrapes its targets, reloads new ones and stops by pid', async () => {
    const a = await exporter(7);
    const b = await exporter(11);
    const prom = await startPrometheus({ targets: [a] });
    closers.push(() => prom.stop());
    expect(prom.url).toBe(`http://127.0.0.1:${prom.port}`);
    expect(alive(prom.pid)).toBe(true);
    await prom.waitForTargetsUp();
    expect((await prom.query('probe_total')).map((r) => [r.metric.instance, r.value[1]])).toEqual([[a, '7']]);

    await prom.reload([a, b]);
    await prom.waitForTargetsUp();
    const both = await prom.query('probe_total');
    expect(Object.fromEntries(both.map((r) => [r.metric.instance, r.value[1]]))).toEqual({
      [a]: '7',
      [b]: '11',
    });

    await prom.stop();
    expect(alive(prom.pid)).toBe(false);
    await prom.stop(); // idempotent
  });

  it('two servers at once get different ports', async () => {
    const [p1, p2] = await Promise.all([startPrometheus({ targets: [] }), startPrometheus({ targets: [] })]);
    closers.push(
      () => p1.stop(),
      () => p2.stop(),
    );
    expect(p1.port).not.toBe(p2.port);
    await p1.waitForTargetsUp(); // no targets: up at once
  });

  it('names the missing binary', async () => {
    const saved = process.env.PROMETHEUS_BIN;
    process.env.PROMETHEUS_BIN = '/nonexistent/prometheus';
    try {
      await expect(startPrometheus({ targets: [] })).rejects.toThrow(/prometheus not found.*PROMETHEUS_BIN/);
    } finally {
      if (saved === undefined) delete process.env.PROMETHEUS_BIN;
      else process.env.PROMETHEUS_BIN = saved;
    }
  });

  it('reports a binary that exits instead of serving, with its stderr', async () => {
    const saved = process.env.PROMETHEUS_BIN;
    process.env.PROMETHEUS_BIN = '/bin/false';
    try {
      await expect(startPrometheus({ targets: [] })).rejects.toThrow(/exited with 1/);
    } finally {
      if (saved === undefined) delete process.env.PROMETHEUS_BIN;
      else process.env.PROMETHEUS_BIN = saved;
    }
  });
});
