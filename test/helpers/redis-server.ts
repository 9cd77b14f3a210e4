import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real `redis-server` for tests: 127.0.0.1, an ephemeral port, no persistence, a temporary directory.
 * Readiness is polled with PING (no fixed sleeps); stop() ends it by pid; restart() brings it back on the
 * same port, empty (nothing is persisted), for the Redis-down scenarios.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** The temporary working directory (removed by stopRedisServer). */
  readonly dir: string;
  /** SIGTERM, wait for exit, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Starts it again on the same port (after stop()). */
  restart(): Promise<void>;
  /** Sends a command over a fresh connection and returns the raw RESP reply (for tests poking at Redis directly). */
  command(...args: string[]): Promise<string>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 15_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Live servers, killed if the test process exits without stopping them (no orphaned redis-server). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackForExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** One command on a fresh socket; resolves with the first complete reply line(s) as text. */
function rawCommand(port: number, args: readonly string[], timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (!data.endsWith('\r\n')) return;
      // A bulk string reply comes as "$n\r\n<payload>\r\n": wait for the payload.
      if (data.startsWith('$') && !data.startsWith('$-1')) {
        const header = data.indexOf('\r\n');
        const length = Number(data.slice(1, header));
        if (Buffer.byteLength(data) < header + 2 + length + 2) return;
      }
      clearTimeout(timer);
      socket.end();
      resolve(data);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_BIN)) {
    throw new Error(
      `redis-server not found at ${REDIS_BIN}: install it (apt-get install redis-server) or set REDIS_SERVER_BIN`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'canary-kit-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async (): Promise<void> => {
    const started = spawn(
      REDIS_BIN,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      if (output.length < 8_000) output += chunk.toString('utf8');
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    let exited = false;
    started.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`redis-server exited during start on port ${port}: ${output.trim()}`);
      try {
        if ((await rawCommand(port, ['PING'], 500)).startsWith('+PONG')) {
          child = started;
          trackForExit(started);
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    started.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} not ready within ${READY_TIMEOUT_MS} ms: ${output.trim()}`);
  };

  // The port is free when we look and may be taken before redis binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    try {
      await launch();
      lastError = undefined;
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError) {
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  const stop = async (graceMs = 5_000): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.pid === undefined) return;
    if (running.exitCode === null && running.signalCode === null) {
      process.kill(running.pid, 'SIGTERM');
      if (!(await waitForExit(running, graceMs))) {
        process.kill(running.pid, 'SIGKILL');
        await waitForExit(running, graceMs);
      }
    }
  };

  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    stop,
    async restart() {
      await stop();
      // Same port: clients reconnect to the address they know. Retry briefly if the port lingers.
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        try {
          await launch();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    command: (...args: string[]) => rawCommand(port, args),
  };
}

/** Stops the server and removes its directory. */
export async function stopRedisServer(server: RedisServer | undefined): Promise<void> {
  if (!server) return;
  await server.stop();
  rmSync(server.dir, { recursive: true, force: true });
}
