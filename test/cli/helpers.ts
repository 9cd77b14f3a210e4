import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBuilt, ROOT } from '../helpers/build.js';

export const CLI = join(ROOT, 'packages', 'cli', 'dist', 'cli.js');

/** Builds core's and the CLI's dist when missing; the tests run the real binary. */
export function ensureCli(): void {
  ensureBuilt('core');
  if (!existsSync(CLI))
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsdown'), [], {
      cwd: join(ROOT, 'packages', 'cli'),
      stdio: 'pipe',
    });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node packages/cli/dist/cli.js …` as a child process (async: the test servers keep answering). */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return spawnCli(args, options).done;
}

/** Starts the CLI; `done` resolves with its exit code and output. */
export function spawnCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  child.stdin.end(options.input ?? '');
  return { process: child, done };
}

// ── the two services ────────────────────────────────────────────────────────────────────────────────

export type Variant = 'baseline' | 'candidate';

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function json(status: number, value: unknown): Answer {
  return { status, headers: { 'content-type': JSON_TYPE }, body: Buffer.from(JSON.stringify(value)) };
}

/**
 * What each version answers. The candidate has exactly two planted differences: `$.price` is 0.5 higher on
 * GET /items/:id, and GET /orders/:id answers 409 instead of 200 with the same body. GET /lists/:id
 * returns its array reversed on the candidate (for --ignore-order; only in its own recording).
 */
export function answer(variant: Variant, method: string, url: string, body: Buffer): Answer {
  const path = url.split('?')[0]!;
  const id = (pattern: RegExp) => (method === 'GET' ? pattern.exec(path)?.[1] : undefined);
  const item = id(/^\/items\/(\d+)$/);
  if (item !== undefined)
    return json(200, {
      id: Number(item),
      name: `Item ${item}`,
      price: 10 + Number(item) + (variant === 'candidate' ? 0.5 : 0),
      tags: ['a', 'b'],
    });
  const user = id(/^\/users\/(\d+)$/);
  if (user !== undefined) return json(200, { id: Number(user), name: `User ${user}`, roles: ['reader'] });
  const order = id(/^\/orders\/([0-9a-f-]{36})$/);
  if (order !== undefined) return json(variant === 'candidate' ? 409 : 200, { order, state: 'open' });
  const list = id(/^\/lists\/(\d+)$/);
  if (list !== undefined)
    return json(200, { id: Number(list), items: variant === 'candidate' ? [3, 2, 1] : [1, 2, 3] });
  if (method === 'GET' && path === '/health')
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('ok') };
  if (method === 'POST' && path === '/search') {
    let query: unknown = null;
    try {
      query = JSON.parse(body.toString('utf8'));
    } catch {
      query = body.toString('utf8');
    }
    return json(200, { query, results: [] });
  }
  return json(404, { error: 'not found' });
}

export interface TestServer {
  readonly url: string;
  /** Milliseconds each answer waits. */
  delayMs: number;
  readonly stats: {
    requests: number;
    inFlight: number;
    maxInFlight: number;
    /** Bodies of POST requests, as received. */
    bodies: string[];
    /** The x-canary-kit-replay header of each request. */
    replayHeaders: string[];
  };
  reset(): void;
  close(): Promise<void>;
}

export async function startServer(variant: Variant): Promise<TestServer> {
  const stats = {
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    bodies: [] as string[],
    replayHeaders: [] as string[],
  };
  const state = { delayMs: 0 };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    stats.inFlight++;
    if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
    res.on('close', () => {
      stats.inFlight--;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (req.method === 'POST') stats.bodies.push(body.toString('utf8'));
    stats.replayHeaders.push(String(req.headers['x-canary-kit-replay']));
    if (state.delayMs > 0) await sleep(state.delayMs);
    const a = answer(variant, req.method ?? 'GET', req.url ?? '/', body);
    res.writeHead(a.status, { ...a.headers, 'content-length': a.body.length });
    res.end(a.body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    stats,
    reset() {
      stats.requests = 0;
      stats.maxInFlight = 0;
      stats.bodies = [];
      stats.replayHeaders = [];
      state.delayMs = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ── recordings ──────────────────────────────────────────────────────────────────────────────────────

let nextId = 0;

/** A canary-kit JSONL v1 line, with the baseline's answer as the recorded response. */
export function v1Line(method: string, url: string, options: { body?: string; ts?: string } = {}): string {
  const body = Buffer.from(options.body ?? '');
  const recorded = answer('baseline', method, url, body);
  return JSON.stringify({
    v: 1,
    id: `req-${++nextId}`,
    ts: options.ts ?? new Date(Date.UTC(2025, 0, 1, 12, 0, 0, nextId)).toISOString(),
    method,
    url,
    headers: {
      accept: 'application/json',
      'user-agent': 'recorded-client/1.0',
      ...(options.body ? { 'content-type': 'application/json' } : {}),
    },
    body: options.body ? body.toString('base64') : null,
    body_truncated: false,
    version: 'stable',
    status: recorded.status,
    response_headers: recorded.headers,
    response_body: recorded.body.toString('base64'),
    duration_ms: 1 + (nextId % 7) * 0.5,
  });
}

/** A hex-format line (no recorded response). */
export function hexLine(method: string, path: string, body?: string, timestamp = 1_735_732_800): string {
  return JSON.stringify({
    method,
    path,
    headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    body_hex: body ? Buffer.from(body).toString('hex') : '',
    timestamp,
  });
}

export const ORDER_IDS = [
  '3f2b8c1e-9a4d-4e7b-8c21-0d5e6f7a8b9c',
  '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479',
  '6fa459ea-ee8a-3ca4-894e-db77e160355e',
];
