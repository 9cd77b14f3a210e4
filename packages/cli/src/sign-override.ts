import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type OverrideValue, signOverride } from '@canary-kit/core';
import { numberOption, parseArgsError } from './args.js';
import { EXIT_OK, InputError, UsageError } from './errors.js';

export const SIGN_OVERRIDE_USAGE = `Usage: canary-kit sign-override <override…> [--expires-in SECONDS | --expires-at DATE]
                                [--secret-env NAME | --secret-file FILE]

Prints a signed override value for the x-canary header or the canary cookie. Overrides are \`always\` or
\`never\` (every flag), or \`flag=always\` / \`flag=never\` items (several allowed).

  --secret-env NAME      environment variable holding the secret (default CANARY_OVERRIDE_SECRET)
  --secret-file FILE     read the secret from a file instead (trailing newline ignored)
  --expires-in SECONDS   lifetime from now (default 3600)
  --expires-at DATE      an absolute expiry (ISO 8601)
  --header               print \`x-canary: <value>\` instead of the bare value

The secret is never taken from the command line, where other users could read it (ps, shell history).`;

export const DEFAULT_SECRET_ENV = 'CANARY_OVERRIDE_SECRET';

export function signOverrideCommand(
  args: readonly string[],
  io: { stdout: NodeJS.WritableStream },
  env: NodeJS.ProcessEnv = process.env,
): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw parseArgsError(error);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${SIGN_OVERRIDE_USAGE}\n`);
    return EXIT_OK;
  }
  if (positionals.length === 0)
    throw new UsageError('sign-override: give overrides, e.g. checkout-v2=always');
  if (values['expires-in'] !== undefined && values['expires-at'] !== undefined)
    throw new UsageError('sign-override: give --expires-in or --expires-at, not both');
  if (values['secret-env'] !== undefined && values['secret-file'] !== undefined)
    throw new UsageError('sign-override: give --secret-env or --secret-file, not both');

  const overrides = overridesOf(positionals);
  const secret = secretOf(values['secret-env'], values['secret-file'], env);
  const expiresInSeconds = numberOption('expires-in', values['expires-in'], {
    min: 1,
    max: 10 * 365 * 24 * 3600,
    integer: true,
  });
  let expiresAt: Date | undefined;
  if (values['expires-at'] !== undefined) {
    expiresAt = new Date(values['expires-at']);
    if (Number.isNaN(expiresAt.getTime()))
      throw new UsageError(`--expires-at: not a date (got ${JSON.stringify(values['expires-at'])})`);
    if (expiresAt.getTime() <= Date.now()) throw new UsageError('--expires-at: must be in the future');
  }
  let value: string;
  try {
    value = signOverride({
      overrides,
      secret,
      ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  io.stdout.write(values.header ? `x-canary: ${value}\n` : `${value}\n`);
  return EXIT_OK;
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      'secret-env': { type: 'string' },
      'secret-file': { type: 'string' },
      'expires-in': { type: 'string' },
      'expires-at': { type: 'string' },
      header: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function overridesOf(items: readonly string[]): OverrideValue | Record<string, OverrideValue> {
  const split = items.flatMap((item) => item.split(',')).map((item) => item.trim());
  if (split.length === 1 && (split[0] === 'always' || split[0] === 'never')) return split[0];
  const flags: Record<string, OverrideValue> = {};
  for (const item of split) {
    const match = /^([^=]+)=(always|never)$/.exec(item);
    if (item === 'always' || item === 'never')
      throw new UsageError(
        `sign-override: a global "${item}" cannot be combined with per-flag overrides; sign them separately`,
      );
    if (!match) throw new UsageError(`sign-override: "${item}" is not an override (flag=always|never)`);
    if (match[1]! in flags) throw new UsageError(`sign-override: flag "${match[1]}" given twice`);
    flags[match[1]!] = match[2] as OverrideValue;
  }
  return flags;
}

function secretOf(envName: string | undefined, file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InputError(`--secret-file: cannot read ${file}: ${(error as Error).message}`);
    }
    return text.replace(/\r?\n$/, '');
  }
  const name = envName ?? DEFAULT_SECRET_ENV;
  const secret = env[name];
  if (secret === undefined || secret === '')
    throw new UsageError(`sign-override: set the secret in $${name} (or use --secret-env / --secret-file)`);
  return secret;
}
