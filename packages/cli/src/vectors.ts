import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { murmur3, murmur3CharCodes, unleashNormalizedValue } from '@canary-kit/core';
import { numberOption, parseArgsError } from './args.js';
import { EXIT_FAILED, EXIT_OK, UsageError } from './errors.js';
import { clean } from './report/text.js';

export const VECTORS_USAGE = `Usage: canary-kit vectors                                  the published bucketing vectors, checked
       canary-kit vectors --flag KEY [options] <identity…>  the bucket of each identity (- reads stdin)

  --flag KEY           the flag whose buckets to print; its seed defaults to the key
  --seed SEED          the flag's seed, when set in its config
  --percentage P       also print the version each identity gets at P % (0–100)
  --bucketing MODE     murmur3 (default) or unleash
  --json               JSON lines instead of a table

bucket = murmur3_x86_32(utf8(seed + ":" + identity), 0) mod 10000; canary when bucket < percentage × 100.
With --bucketing unleash: bucket = unleash's normalizedValue (1–100); canary when bucket <= percentage.`;

/** The three vectors of the architecture page (docs/bucketing-vectors.json holds the full set). */
export const REFERENCE_VECTORS: readonly { seed: string; identity: string; hash: number }[] = [
  { seed: 'test', identity: '123', hash: 1898182313 },
  { seed: 'checkout-v2', identity: 'a@b.com', hash: 220496259 },
  { seed: 'flag', identity: 'ünïcødé-用户', hash: 2738191476 },
];

export async function vectorsCommand(
  args: readonly string[],
  io: { stdout: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream },
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw parseArgsError(error);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${VECTORS_USAGE}\n`);
    return EXIT_OK;
  }
  const json = values.json ?? false;
  const bucketing = values.bucketing ?? 'murmur3';
  if (bucketing !== 'murmur3' && bucketing !== 'unleash')
    throw new UsageError(`--bucketing: must be murmur3 or unleash (got ${JSON.stringify(bucketing)})`);
  const percentage = numberOption('percentage', values.percentage, { min: 0, max: 100 });

  if (positionals.length === 0) {
    if (values.flag !== undefined || values.seed !== undefined || percentage !== undefined)
      throw new UsageError(
        'vectors: give the identities to bucket, e.g. vectors --flag checkout-v2 user-1 user-2',
      );
    return reference(io.stdout, json);
  }
  const seed = values.seed ?? values.flag;
  if (seed === undefined)
    throw new UsageError('vectors: --flag KEY (or --seed SEED) is needed to bucket identities');
  if (seed === '') throw new UsageError('vectors: the seed must not be empty');

  const identities =
    positionals.length === 1 && positionals[0] === '-'
      ? await readLines(io.stdin ?? process.stdin)
      : positionals;
  const rows = identities.map((identity) => {
    const input = `${seed}:${identity}`;
    const hash = bucketing === 'unleash' ? murmur3CharCodes(input) : murmur3(input);
    const bucket = bucketing === 'unleash' ? unleashNormalizedValue(seed, identity) : hash % 10_000;
    const version =
      percentage === undefined
        ? undefined
        : (bucketing === 'unleash' ? bucket <= percentage : bucket < Math.round(percentage * 100))
          ? 'canary'
          : 'stable';
    return { seed, identity, input, hash, bucket, ...(version ? { version } : {}) };
  });
  if (json) for (const row of rows) io.stdout.write(`${JSON.stringify(row)}\n`);
  else
    io.stdout.write(
      table(
        ['identity', 'hash', 'bucket', ...(percentage === undefined ? [] : [`at ${percentage} %`])],
        rows.map((r) => [
          clean(r.identity),
          String(r.hash),
          String(r.bucket),
          ...(r.version ? [r.version] : []),
        ]),
      ),
    );
  return EXIT_OK;
}

function reference(stdout: NodeJS.WritableStream, json: boolean): number {
  let ok = true;
  const rows = REFERENCE_VECTORS.map((v) => {
    const input = `${v.seed}:${v.identity}`;
    const hash = murmur3(input);
    const pass = hash === v.hash;
    if (!pass) ok = false;
    return {
      seed: v.seed,
      identity: v.identity,
      input,
      inputUtf8Hex: Buffer.from(input, 'utf8').toString('hex'),
      hash,
      bucket: hash % 10_000,
      expected: v.hash,
      ok: pass,
    };
  });
  if (json) for (const row of rows) stdout.write(`${JSON.stringify(row)}\n`);
  else {
    stdout.write(
      table(
        ['input', 'utf-8 hex', 'hash', 'bucket', 'check'],
        rows.map((r) => [
          r.input,
          r.inputUtf8Hex,
          String(r.hash),
          String(r.bucket),
          r.ok ? 'ok' : `FAIL (expected ${r.expected})`,
        ]),
      ),
    );
    stdout.write('All vectors: docs/bucketing-vectors.json (and docs/bucketing.md for the algorithm).\n');
  }
  return ok ? EXIT_OK : EXIT_FAILED;
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      flag: { type: 'string' },
      seed: { type: 'string' },
      percentage: { type: 'string' },
      bucketing: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function readLines(input: NodeJS.ReadableStream): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }))
    if (line !== '') lines.push(line);
  return lines;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
