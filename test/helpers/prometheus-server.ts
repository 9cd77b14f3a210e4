import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A real `prometheus` for tests: 127.0.0.1, an ephemeral port, a temporary TSDB directory, a generated config
 * scraping the given targets. Readiness and target health are polled (never a fixed sleep); `stop` ends the
 * process by pid. `.ci/run` installs the Debian package, so this is the binary CI has too.
 *
 * Timing: `/-/ready` answers 0.1–0.3 s after spawn, but the first scrape comes ~5 s after the start: Prometheus
 * 2.42 hands targets from discovery to the scrape manager on a hard-coded 5 s tick counted from its start (no flag
 * changes it), also after a `reload`. `waitForTargetsUp` waits that out. To spend the wait on other setup, start
 * Prometheus first (with no targets if their ports are not known yet) and `reload` them in later: a reload 3.5 s
 * after the start had its target up 1.5 s later.
 */

export interface StartPrometheusOptions {
  /** `host:port` of every endpoint to scrape, one job (`canary-kit`). */
  readonly targets: readonly string[];
  /** Scrape interval (and timeout). Default 1,000 ms. */
  readonly scrapeIntervalMs?: number;
  /** Path scraped on every target. Default `/metrics`. */
  readonly metricsPath?: string;
  /** How long to wait for `/-/ready`. Default 30 s (it is ready in well under a second here). */
  readonly readyTimeoutMs?: number;
  /** Alerting/recording rule files to load (absolute paths), evaluated every `evaluationIntervalMs`. */
  readonly ruleFiles?: readonly string[];
  /** Rule evaluation interval. Default 1,000 ms. */
  readonly evaluationIntervalMs?: number;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` — the HTTP API base. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, up to 5 s for a clean exit, then SIGKILL; removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /** Rewrites the config with these targets and reloads it (`/-/reload`, lifecycle API). */
  reload(targets: readonly string[]): Promise<void>;
  /** Resolves once every configured target has been scraped successfully (`health: "up"`). */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** An instant query, for tests that wait for samples: the `data.result` vector. */
  query(promql: string): Promise<PromVectorSample[]>;
}

export interface PromVectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

const POLL_MS = 20;
const BIND_ATTEMPTS = 5;
const STDERR_TAIL = 16_384;

/** The binary: `PROMETHEUS_BIN` when set (and only it), else /usr/bin/prometheus, else `prometheus` on PATH. */
export function findPrometheus(): string | undefined {
  const pinned = process.env.PROMETHEUS_BIN;
  if (pinned !== undefined && pinned !== '') return existsSync(pinned) ? pinned : undefined;
  const candidates = [
    '/usr/bin/prometheus',
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'prometheus')),
  ];
  return candidates.find((path) => existsSync(path));
}

/** Live servers, killed if the test process exits without stopping them (no orphaned prometheus). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackForExit(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = findPrometheus();
  if (binary === undefined) {
    throw new Error(
      'prometheus not found (looked at $PROMETHEUS_BIN, /usr/bin/prometheus and PATH): install the Debian package ' +
        '`prometheus` (.ci/run does) or set PROMETHEUS_BIN',
    );
  }
  const intervalMs = options.scrapeIntervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 10) {
    throw new RangeError(`scrapeIntervalMs must be a whole number of ms ≥ 10, got ${intervalMs}`);
  }
  const metricsPath = options.metricsPath ?? '/metrics';
  const rules = { files: options.ruleFiles ?? [], intervalMs: options.evaluationIntervalMs ?? 1000 };
  const dir = await mkdtemp(join(tmpdir(), 'canary-kit-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  let targets = [...options.targets];
  await writeFile(configFile, renderConfig(targets, intervalMs, metricsPath, rules));

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(binary, dir, configFile, port, options.readyTimeoutMs ?? 30_000);
      const url = `http://127.0.0.1:${port}`;
      const pid = child.pid as number;
      let stopping: Promise<void> | undefined;
      return {
        url,
        port,
        pid,
        stop() {
          stopping ??= stopProcess(child).finally(() => rm(dir, { recursive: true, force: true }));
          return stopping;
        },
        async reload(next) {
          targets = [...next];
          await writeFile(configFile, renderConfig(targets, intervalMs, metricsPath, rules));
          const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
          if (!res.ok) throw new Error(`prometheus reload failed: HTTP ${res.status} ${await res.text()}`);
        },
        waitForTargetsUp: (timeoutMs = 30_000) => waitForTargetsUp(url, () => targets, timeoutMs),
        query: (promql) => instantQuery(url, promql),
      };
    } catch (error) {
      lastError = error as Error;
      // Another process took the port between our probe and prometheus' bind: try another one.
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('prometheus did not start');
}

function renderConfig(
  targets: readonly string[],
  intervalMs: number,
  metricsPath: string,
  rules: { readonly files: readonly string[]; readonly intervalMs: number },
): string {
  // JSON is YAML: no quoting rules to get wrong. The timeout equals the interval (it may not exceed it).
  return JSON.stringify({
    global: {
      scrape_interval: `${intervalMs}ms`,
      scrape_timeout: `${intervalMs}ms`,
      evaluation_interval: `${rules.intervalMs}ms`,
    },
    rule_files: [...rules.files],
    scrape_configs: [
      { job_name: 'canary-kit', metrics_path: metricsPath, static_configs: [{ targets: [...targets] }] },
    ],
  });
}

/** A port the kernel says is free now; prometheus may still lose a race for it (retried above). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function launch(
  binary: string,
  dir: string,
  configFile: string,
  port: number,
  readyTimeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Keep the tail of stderr for error messages; reading it also keeps the pipe from filling up.
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    live.delete(child);
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  trackForExit(child);

  const url = `http://127.0.0.1:${port}/-/ready`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (spawnError !== undefined)
      throw new Error(`prometheus (${binary}) failed to start: ${spawnError.message}`);
    if (exited !== undefined) throw new Error(`prometheus on port ${port} ${exited}: ${stderr.trim()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return child;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`prometheus on port ${port} not ready within ${readyTimeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid as number;
  process.kill(pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 5000);
    }),
  ]);
  clearTimeout(timer);
  if (!graceful) {
    process.kill(pid, 'SIGKILL');
    await exited;
  }
  live.delete(child);
}

interface TargetsBody {
  data?: {
    activeTargets?: { scrapeUrl: string; health: string; lastError: string; labels: { instance: string } }[];
  };
}

async function waitForTargetsUp(
  url: string,
  targets: () => readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as TargetsBody;
      const active = body.data?.activeTargets ?? [];
      const wanted = targets();
      const up = wanted.filter((t) => active.some((a) => a.labels.instance === t && a.health === 'up'));
      if (up.length === wanted.length) return;
      last = active
        .map((a) => `${a.labels.instance} ${a.health}${a.lastError ? ` (${a.lastError})` : ''}`)
        .join(', ');
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`prometheus targets not all up within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function instantQuery(url: string, promql: string): Promise<PromVectorSample[]> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: PromVectorSample[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}
