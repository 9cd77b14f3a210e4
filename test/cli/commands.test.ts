import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { murmur3, unleashNormalizedValue } from '@canary-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build.js';
import { ensureCli, runCli } from './helpers.js';

beforeAll(() => {
  ensureCli();
});

const SECRET = 'a-test-secret-of-32-characters!!';

/** Checks a signed override the way core does: HMAC-SHA256 over everything before `,sig=`, base64url. */
function verify(value: string, secret = SECRET) {
  const at = value.lastIndexOf(',sig=');
  const payload = value.slice(0, at);
  const expected = createHmac('sha256', secret).update(payload).digest('base64url');
  const exp = Number(/,exp=(\d+)/.exec(payload)?.[1]);
  return { payload, valid: value.slice(at + 5) === expected, exp };
}

describe('canary-kit sign-override', () => {
  it('signs per-flag overrides with the secret from $CANARY_OVERRIDE_SECRET', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await runCli(
      ['sign-override', 'checkout-v2=always', 'search=never', '--expires-in', '600'],
      {
        env: { CANARY_OVERRIDE_SECRET: SECRET },
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const value = result.stdout.trim();
    const { payload, valid, exp } = verify(value);
    expect(valid).toBe(true);
    expect(payload).toMatch(/^checkout-v2=always,search=never,exp=\d+$/);
    expect(exp).toBeGreaterThanOrEqual(before + 600);
    expect(exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
  });

  it('signs a global override, reads --secret-file, prints a header with --header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canary-kit-sign-'));
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`);
    const at = new Date(Date.now() + 3_600_000);
    const result = await runCli([
      'sign-override',
      'never',
      '--secret-file',
      file,
      '--expires-at',
      at.toISOString(),
      '--header',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^x-canary: never,exp=\d+,sig=/);
    const { valid, exp } = verify(result.stdout.trim().slice('x-canary: '.length));
    expect(valid).toBe(true);
    expect(exp).toBe(Math.floor(at.getTime() / 1000));
  });

  it.each([
    ['no overrides', ['sign-override'], {}, /give overrides/],
    ['no secret', ['sign-override', 'always'], { CANARY_OVERRIDE_SECRET: '' }, /\$CANARY_OVERRIDE_SECRET/],
    ['a short secret', ['sign-override', 'always'], { CANARY_OVERRIDE_SECRET: 'short' }, /at least 16/],
    [
      'a bad item',
      ['sign-override', 'checkout=maybe'],
      { CANARY_OVERRIDE_SECRET: SECRET },
      /not an override/,
    ],
    [
      'global with flags',
      ['sign-override', 'always', 'a=never'],
      { CANARY_OVERRIDE_SECRET: SECRET },
      /cannot be combined/,
    ],
    [
      'a past expiry',
      ['sign-override', 'always', '--expires-at', '2000-01-01'],
      { CANARY_OVERRIDE_SECRET: SECRET },
      /future/,
    ],
    ['a secret on the command line', ['sign-override', 'always', '--secret', SECRET], {}, /secret/],
  ])('%s → exit 2', async (_name, args, env, message) => {
    const result = await runCli(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

describe('canary-kit vectors', () => {
  it('prints the published vectors, checked against this build', async () => {
    const result = await runCli(['vectors', '--json']);
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; hash: number; bucket: number; ok: boolean });
    expect(rows.map((r) => [r.input, r.hash, r.bucket, r.ok])).toEqual([
      ['test:123', 1898182313, 2313, true],
      ['checkout-v2:a@b.com', 220496259, 6259, true],
      ['flag:ünïcødé-用户', 2738191476, 1476, true],
    ]);
    // The same numbers as docs/bucketing-vectors.json.
    const published = JSON.parse(readFileSync(join(ROOT, 'docs', 'bucketing-vectors.json'), 'utf8')) as {
      vectors: { input?: string; hash: number }[];
    };
    for (const row of rows) expect(published.vectors.find((v) => v.input === row.input)?.hash).toBe(row.hash);
    const table = await runCli(['vectors']);
    expect(table.stdout).toMatch(/test:123\s+746573743a313233\s+1898182313\s+2313\s+ok/);
  });

  it('buckets identities for a flag, with the version at a percentage', async () => {
    const ids = ['a@b.com', 'user-1', 'user-2', 'ünï'];
    const result = await runCli(['vectors', '--flag', 'checkout-v2', '--percentage', '50', '--json', ...ids]);
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { identity: string; hash: number; bucket: number; version: string });
    for (const [i, id] of ids.entries()) {
      const hash = murmur3(`checkout-v2:${id}`);
      expect(rows[i]).toMatchObject({ identity: id, hash, bucket: hash % 10_000 });
      expect(rows[i]!.version).toBe(hash % 10_000 < 5000 ? 'canary' : 'stable');
    }
  });

  it('reads identities from stdin with -, uses --seed over the flag key, and the unleash mode', async () => {
    const seeded = await runCli(['vectors', '--flag', 'x', '--seed', 'test', '-'], { input: '123\n\n456\n' });
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toMatch(/^123\s+1898182313\s+2313$/m);
    expect(seeded.stdout).toMatch(
      new RegExp(`^456\\s+${murmur3('test:456')}\\s+${murmur3('test:456') % 10_000}$`, 'm'),
    );
    const unleash = await runCli(['vectors', '--flag', 'f', '--bucketing', 'unleash', '--json', 'u1']);
    expect(JSON.parse(unleash.stdout)).toMatchObject({ bucket: unleashNormalizedValue('f', 'u1') });
  });

  it.each([
    [['vectors', 'u1'], /--flag KEY/],
    [['vectors', '--flag', 'f'], /give the identities/],
    [['vectors', '--flag', 'f', '--percentage', '101', 'u'], /--percentage/],
    [['vectors', '--flag', 'f', '--bucketing', 'md5', 'u'], /--bucketing/],
  ])('%j → exit 2', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

describe('canary-kit', () => {
  it('--help lists the commands; --version prints the package version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['replay', 'sign-override', 'vectors']) expect(help.stdout).toContain(command);
    const version = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', 'cli', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('the built binary starts with a shebang and runs as an executable', () => {
    const file = join(ROOT, 'packages', 'cli', 'dist', 'cli.js');
    expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(file).mode & 0o111).not.toBe(0);
    const out = execFileSync(file, ['vectors'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    });
    expect(out).toContain('1898182313');
  });
});
