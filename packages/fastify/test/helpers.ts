import type { Canary } from '@canary-kit/core';
import type { FastifyInstance } from 'fastify';

/** One sample of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the text exposition format (comments skipped, label values unescaped). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    for (const m of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when there is none. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

export async function scrape(base: string, path = '/metrics'): Promise<Sample[]> {
  const res = await fetch(`${base}${path}`);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return parseExposition(await res.text());
}

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
