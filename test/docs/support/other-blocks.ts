import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanaryConfigError, createCanary, createFileStore, parseConfig, parseFlags } from '@canary-kit/core';
import canaryPlugin from '@canary-kit/fastify';
import Fastify from 'fastify';
import { expect } from 'vitest';
import { parseReplayArgs } from '../../../packages/cli/src/replay/options.js';
import { SIGN_OVERRIDE_USAGE } from '../../../packages/cli/src/sign-override.js';
import { VECTORS_USAGE } from '../../../packages/cli/src/vectors.js';
import { resettingServer } from '../../helpers/servers.js';
import { type CodeBlock, ROOT } from './markdown.js';

/** Blocks that are not programs: shell commands, JSON, and samples of what canary-kit prints or sends. */

const readJson = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

function workspacePackages(): Map<string, { scripts: Record<string, string> }> {
  const out = new Map<string, { scripts: Record<string, string> }>();
  for (const dir of ['packages', 'examples']) {
    for (const name of readdirSync(join(ROOT, dir))) {
      const file = join(dir, name, 'package.json');
      if (!existsSync(join(ROOT, file))) continue;
      const pkg = readJson(file);
      out.set(pkg.name, { scripts: pkg.scripts ?? {} });
    }
  }
  return out;
}

/** Names a reader may install: our packages and every dependency some package.json of ours lists. */
function installable(): Set<string> {
  const names = new Set(workspacePackages().keys());
  const files = [
    'package.json',
    ...readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}/package.json`),
  ];
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue;
    const pkg = readJson(file);
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
      for (const name of Object.keys(pkg[field] ?? {})) names.add(name);
    }
  }
  return names;
}

/** Splits a command line into words, honouring single and double quotes. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const CLI_USAGE = readFileSync(join(ROOT, 'packages/cli/src/cli.ts'), 'utf8');

/**
 * Every command of a shell block is checked against what exists: root scripts and workspace packages'
 * scripts for pnpm, package names for installs, files for node, and for `canary-kit replay` the real
 * argument parser. Nothing is installed or run.
 */
export function checkShellBlock(block: CodeBlock): void {
  const rootScripts = readJson('package.json').scripts as Record<string, string>;
  const packages = workspacePackages();
  const known = installable();
  const commands = block.code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean)
    .flatMap((l) => l.split(/&&|\|\|/))
    .map((c) => c.trim());
  expect(commands.length, `${block.where}: no command`).toBeGreaterThan(0);
  for (const command of commands) {
    const label = `${block.where}: \`${command}\``;
    const argv = words(command).filter(
      (w, i, all) => !(/^[A-Z_]+=/.test(w) && all.slice(0, i).every((x) => /^[A-Z_]+=/.test(x))),
    );
    // npx -y pnpm@10 …, pnpm …, npx canary-kit …
    while (argv[0] === 'npx' || argv[0] === '-y') argv.shift();
    const tool = argv.shift()?.replace(/@[\d.]+$/, '');
    if (tool === 'pnpm' || tool === 'npm' || tool === 'yarn') {
      let args = argv;
      let scripts = rootScripts;
      if (args[0] === '--filter') {
        const pkg = packages.get(args[1]!);
        expect(pkg, `${label}: no workspace package ${args[1]}`).toBeDefined();
        scripts = pkg!.scripts;
        args = args.slice(2);
      }
      const [sub, ...rest] = args;
      if (sub === 'install' || sub === 'i' || sub === 'add') {
        for (const name of rest.filter((r) => !r.startsWith('-'))) {
          expect(
            known.has(name.replace(/(.)@[^/]*$/, '$1')),
            `${label}: ${name} is not a package we use`,
          ).toBe(true);
        }
      } else {
        const script = sub === 'run' ? rest[0] : sub;
        expect(Object.keys(scripts), `${label}: no script ${script}`).toContain(script);
      }
    } else if (tool === 'node') {
      const file = argv.find((a) => !a.startsWith('-'));
      expect(existsSync(join(ROOT, file ?? '')), `${label}: no file ${file}`).toBe(true);
    } else if (tool === 'canary-kit') {
      const [sub, ...rest] = argv;
      expect(CLI_USAGE, `${label}: no subcommand ${sub}`).toContain(`case '${sub}':`);
      if (sub === 'replay') expect(() => parseReplayArgs(rest), label).not.toThrow();
      const usage = sub === 'sign-override' ? SIGN_OVERRIDE_USAGE : sub === 'vectors' ? VECTORS_USAGE : '';
      for (const option of rest.filter((r) => r.startsWith('--'))) {
        if (usage) expect(usage, `${label}: no option ${option}`).toContain(option);
      }
    } else {
      throw new Error(`${label}: no check for the command ${tool}`);
    }
  }
}

/**
 * `json [config|flags|file-store|unleash-toggle|fastify-upstream-reset]`: parses; a config or flags document must
 * pass the real validator; the other kinds are checked by the functions below.
 */
export async function checkJsonBlock(block: CodeBlock, kind: string): Promise<void> {
  let value: unknown;
  expect(() => {
    value = JSON.parse(block.code);
  }, `${block.where}: not JSON`).not.toThrow();
  if (kind === 'fastify-upstream-reset') return checkFastifyUpstreamReset(block, value);
  if (kind === 'unleash-toggle') return checkUnleashToggle(block, value as UnleashToggle);
  if (kind === 'file-store') return checkThroughFileStore(block, value);
  if (kind === 'config') expect(() => parseConfig(value), block.where).not.toThrow();
  if (kind === 'flags')
    expect(() => parseFlags((value as { flags?: unknown }).flags ?? value), block.where).not.toThrow();
}

async function scrapeRealApp(): Promise<{ metrics: string; setCookie: string }> {
  const canary = createCanary({
    flags: { 'checkout-v2': { percentage: 10, stickiness: ['userId', 'sessionId'] } },
    overrides: { trust: () => false },
  });
  const app = Fastify();
  await app.register(canaryPlugin, {
    canary,
    context: (req) => ({ userId: req.headers['x-user-id'] as string | undefined }),
    metricsRoute: '/metrics',
  });
  app.get('/checkout', { config: { canary: { flag: 'checkout-v2' } } }, async () => ({ ok: true }));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const anonymous = await fetch(`${base}/checkout`);
    const setCookie = anonymous.headers.get('set-cookie') ?? '';
    for (let i = 0; i < 60; i++) await fetch(`${base}/checkout`, { headers: { 'x-user-id': `u-${i}` } });
    await fetch(`${base}/checkout`, { headers: { 'x-user-id': 'u-1', 'x-canary': 'always' } });
    return { metrics: await (await fetch(`${base}/metrics`)).text(), setCookie };
  } finally {
    await app.close();
    await canary.close();
  }
}

/**
 * `metrics`: every sample line of the block names a series a real app exposes, with the same label names
 * (values are the reader's: counts differ).
 */
export async function checkMetricsSample(block: CodeBlock): Promise<void> {
  const { metrics } = await scrapeRealApp();
  const series = new Set(
    metrics
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => signature(l)),
  );
  for (const line of block.code.split('\n').filter((l) => l.trim())) {
    expect([...series], `${block.where}: ${line}`).toContain(signature(line));
  }
}

function signature(line: string): string {
  const m = /^([\w:]+)(?:\{([^}]*)\})?/.exec(line.trim());
  const labels = (m?.[2] ?? '')
    .split(',')
    .map((p) => p.split('=')[0]!.trim())
    .filter(Boolean)
    .sort();
  return `${m?.[1]}{${labels.join(',')}}`;
}

/** `cookie`: the sample Set-Cookie header has the name and attributes a real anonymous request gets. */
export async function checkCookieSample(block: CodeBlock): Promise<void> {
  const { setCookie } = await scrapeRealApp();
  const attrs = (header: string) =>
    header
      .replace(/^Set-Cookie:\s*/i, '')
      .split(';')
      .map((p) => p.trim())
      .map((p, i) => (i === 0 ? p.split('=')[0] : p));
  expect(attrs(setCookie), block.where).toEqual(attrs(block.code.trim()));
}

/**
 * `warning <source file>`: the text of a warning shown in the docs is the message the source emits (the
 * `(node:1234) [CODE] CanaryKitWarning:` prefix Node adds aside), so the docs cannot drift from the code.
 */
export function checkWarningSample(block: CodeBlock, sourceFile: string): void {
  const source = readFileSync(join(ROOT, sourceFile), 'utf8');
  // The message is a concatenation of string literals: join them, then compare with whitespace collapsed.
  const literals = source
    .replace(/(['"`])\s*\+\s*\n\s*(['"`])/g, '')
    .replace(/\\'/g, "'")
    .replace(/\s+/g, ' ');
  const text = block.code
    .replace(/^\(node:\d+\) \[[A-Z_]+\] CanaryKitWarning: /, '')
    .replace(/\s+/g, ' ')
    .trim();
  expect(literals, `${block.where}: not the message in ${sourceFile}`).toContain(text);
}

/**
 * `types <source file>`: a block showing a type declaration (declaration merging, an options interface) shows
 * what the source declares: each member line of the block, comments aside, is in the source file.
 */
export function checkTypesBlock(block: CodeBlock, sourceFile: string): void {
  const source = readFileSync(join(ROOT, sourceFile), 'utf8').replace(/\s+/g, ' ');
  const members = block.code
    .split('\n')
    .map((l) =>
      l
        .replace(/\/\/.*$/, '')
        .replace(/[{}]/g, '')
        .trim(),
    )
    .filter((l) => l && !l.startsWith('*'));
  expect(members.length, block.where).toBeGreaterThan(0);
  for (const member of members)
    expect(source, `${block.where}: ${member} not in ${sourceFile}`).toContain(member);
}

/** `config-error <config>`: the block is what a CanaryConfigError for that config prints. */
export async function checkConfigErrorSample(block: CodeBlock, configText: string): Promise<void> {
  const config = new Function(`return (${configText});`)();
  let thrown: unknown;
  try {
    await createCanary(config).close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${block.where}: createCanary accepted ${configText}`).toBeInstanceOf(CanaryConfigError);
  expect(`${(thrown as Error).name}: ${(thrown as Error).message}`, block.where).toBe(block.code.trimEnd());
}

interface UnleashToggle {
  name: string;
  enabled: boolean;
  strategies: { name: string; parameters: Record<string, string>; constraints?: unknown[] }[];
}

/**
 * `json unleash-toggle`: an Unleash flexibleRollout toggle, loaded into a real unleash-client (offline: no URL is
 * fetched, no metrics are sent), answers like the canary-kit flag the migration guide maps it to, for every id.
 */
async function checkUnleashToggle(block: CodeBlock, toggle: UnleashToggle): Promise<void> {
  const { Unleash, InMemStorageProvider } = await import('unleash-client');
  const strategy = toggle.strategies.find((s) => s.name === 'flexibleRollout');
  expect(strategy, `${block.where}: no flexibleRollout strategy`).toBeDefined();
  const { rollout = '0', groupId = toggle.name } = strategy!.parameters;
  const canary = createCanary({
    flags: {
      [toggle.name]: {
        enabled: toggle.enabled,
        percentage: Number(rollout),
        bucketing: 'unleash',
        seed: groupId,
        stickiness: ['userId', 'sessionId'],
      },
    },
  });
  const unleash = new Unleash({
    appName: 'canary-kit-docs',
    url: 'http://127.0.0.1:9/api/',
    refreshInterval: 0,
    disableMetrics: true,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: { data: [toggle as never] },
  });
  unleash.on('error', () => {});
  try {
    const ready = new Promise((resolve) => unleash.once('ready', resolve));
    await unleash.start();
    await ready;
    let enabled = 0;
    for (let i = 0; i < 3000; i++) {
      const context =
        i % 3 === 0 ? { sessionId: `session-${i}` } : { userId: `user-${i}`, sessionId: `s-${i}` };
      const theirs = unleash.isEnabled(toggle.name, context);
      const ours = canary.isCanary(toggle.name, context);
      if (ours !== theirs)
        expect({ context, canary: ours }, block.where).toEqual({ context, canary: theirs });
      if (theirs) enabled++;
    }
    expect(enabled, `${block.where}: the toggle enables some ids`).toBeGreaterThan(0);
  } finally {
    unleash.destroy();
    await canary.close();
  }
}

/** `json file-store`: the document, written to a file, is served by a Canary reading it through the file store. */
async function checkThroughFileStore(block: CodeBlock, value: unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'canary-docs-'));
  const path = join(dir, 'flags.json');
  writeFileSync(path, JSON.stringify(value));
  const canary = createCanary({ store: createFileStore({ path, watch: false }) });
  try {
    await canary.ready();
    const flags = (value as { flags: Record<string, { percentage?: number }> }).flags;
    expect(Object.keys(flags).length, block.where).toBeGreaterThan(0);
    for (const [key, flag] of Object.entries(flags)) {
      expect(canary.getFlag(key), `${block.where}: ${key} not served from the file`).toMatchObject({
        percentage: flag.percentage ?? 0,
      });
    }
  } finally {
    await canary.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `nginx`: the "before" config of a migration guide is a config nginx accepts. Statements and blocks are checked
 * here (every statement ends with `;`, braces balance); where nginx is installed, `nginx -t` checks the rest.
 */
export function checkNginxBlock(block: CodeBlock): void {
  let depth = 0;
  block.code.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const where = `${block.file}:${block.line + 1 + i}`;
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    expect(depth, `${where}: unbalanced braces`).toBeGreaterThanOrEqual(0);
    expect(/[;{}]$/.test(line), `${where}: a statement must end with ; — ${line}`).toBe(true);
  });
  expect(depth, `${block.where}: unbalanced braces`).toBe(0);
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (!nginx) return;
  const dir = mkdtempSync(join(tmpdir(), 'canary-docs-nginx-'));
  try {
    writeFileSync(join(dir, 'nginx.conf'), block.code);
    const result = spawnSync(
      nginx,
      [
        '-t',
        '-p',
        dir,
        '-c',
        join(dir, 'nginx.conf'),
        '-g',
        `pid ${join(dir, 'nginx.pid')}; error_log stderr;`,
      ],
      { encoding: 'utf8' },
    );
    expect(result.status, `${block.where}: nginx -t says\n${result.stderr}`).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `python`: a "before" script of a migration guide is valid Python (parsed by python3's own parser where python3
 * is installed; otherwise only checked to be a script).
 */
export function checkPythonBlock(block: CodeBlock): void {
  expect(block.code.trim().length, block.where).toBeGreaterThan(0);
  const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return;
  const result = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], {
    input: block.code,
    encoding: 'utf8',
  });
  expect(result.status, `${block.where}: python3 cannot parse it\n${result.stderr}`).toBe(0);
}

/**
 * `override-values` followed by lines `VALUE -> flag:version …` (`flag:-` = not decided by the override): each
 * value of the block, sent by a trusted caller, decides the flags as stated — and every value has its line.
 */
export async function checkOverrideValues(block: CodeBlock, spec: string): Promise<void> {
  const expected = new Map<string, [string, string][]>();
  for (const line of spec.split('\n').filter((l) => l.includes('->'))) {
    const [value = '', outcomes = ''] = line.split('->').map((p) => p.trim());
    expected.set(
      value,
      outcomes.split(/\s+/).map((o) => o.split(':') as [string, string]),
    );
  }
  const values = block.code
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((v): v is string => Boolean(v));
  expect(values.sort(), `${block.where}: every value has an expectation`).toEqual(
    [...expected.keys()].sort(),
  );
  const canary = createCanary({
    flags: { 'checkout-v2': { percentage: 50 }, search: { percentage: 50 } },
    overrides: { trust: () => true },
  });
  try {
    for (const [value, outcomes] of expected) {
      for (const [flag, version] of outcomes) {
        const decision = canary.evaluate(flag, { userId: 'u-7', overrides: { header: value } });
        if (version === '-')
          expect(decision.reason, `${block.where}: ${value} → ${flag}`).not.toBe('override');
        else
          expect(decision, `${block.where}: ${value} → ${flag}`).toMatchObject({
            version,
            reason: 'override',
          });
      }
    }
  } finally {
    await canary.close();
  }
}

/**
 * `json fastify-upstream-reset`: the body a Fastify client gets when a POST proxied to the flag's upstream is
 * reset — produced for real: a canary POST, an upstream that resets every connection.
 */
async function checkFastifyUpstreamReset(block: CodeBlock, expected: unknown): Promise<void> {
  const upstream = await resettingServer();
  const canary = createCanary({
    flags: { 'cart-v2': { percentage: 100, upstream: { url: upstream.url, circuitBreaker: false } } },
  });
  const app = Fastify();
  try {
    await app.register(canaryPlugin, { canary, context: () => ({ userId: 'u-1' }) });
    app.post('/cart', { config: { canary: { flag: 'cart-v2' } } }, async () => ({ served: 'stable' }));
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${base}/cart`, {
      method: 'POST',
      body: '{"item":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status, block.where).toBe(502);
    expect(await res.json(), block.where).toEqual(expected);
  } finally {
    await app.close();
    await canary.close();
    await upstream.close();
  }
}
