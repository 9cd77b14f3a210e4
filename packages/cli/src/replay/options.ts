import { parseArgs } from 'node:util';
import {
  CanaryConfigError,
  type CompiledDiffOptions,
  compileDiffOptions,
  type ResponseDiffOptions,
  type Tolerance,
} from '@canary-kit/core';
import { durationOption, numberOption, parseArgsError } from '../args.js';
import { UsageError } from '../errors.js';

export const REPLAY_USAGE = `Usage: canary-kit replay <files…> --baseline URL --candidate URL [options]
       canary-kit replay <files…> --target URL [options]

Replays recorded requests (canary-kit JSONL v1 or the hex format) against two servers and diffs every pair of
answers with the shadow differ; with --target, against one server and the answers stored in the recording.

Targets
  --baseline URL         the version you trust (compared as the primary)
  --candidate URL        the version under test
  --target URL           one server, compared with the recorded responses instead

Pace
  --concurrency N        requests in flight at once (default 16)
  --rate N               requests started per second, at most
  --speed F              follow the recorded timing, F times as fast (1 = as recorded)
  --timeout DURATION     per request, headers and body (default 10s; 500, 500ms, 2s)
  --methods LIST         methods replayed (default GET,HEAD,OPTIONS; ALL for every method)

Comparison
  --ignore PATH          never report this path (repeatable): '$.meta.requestId', '$..traceId'
  --ignore-order         compare arrays as multisets
  --tolerance N | N%     numbers within N (absolute) or N percent (relative) are equal
  --max-response-bytes N response bytes kept per side (default 8388608); longer bodies are not compared

Output
  --json FILE            write the JSON report (- for stdout)
  --report FILE          write the HTML report (one self-contained file)
  --fail-under PERCENT   exit 1 when the match rate is below this (default 100)
  --quiet                no progress output

Exit status: 0 at or above --fail-under, 1 below it, 2 on usage or I/O errors.`;

export interface ReplayOptions {
  readonly files: readonly string[];
  readonly mode: 'pair' | 'target';
  /** Pair mode: the baseline URL; target mode: undefined (the recording is the baseline). */
  readonly baseline: string | undefined;
  /** The candidate (pair mode) or the target. */
  readonly candidate: string;
  readonly concurrency: number;
  readonly rate: number | undefined;
  readonly speed: number | undefined;
  readonly timeoutMs: number;
  /** Upper-case methods replayed; undefined for all. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly diff: ResponseDiffOptions;
  readonly compiledDiff: CompiledDiffOptions;
  readonly maxResponseBytes: number;
  readonly json: string | undefined;
  readonly report: string | undefined;
  readonly failUnder: number;
  readonly quiet: boolean;
}

export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_METHODS = ['GET', 'HEAD', 'OPTIONS'];
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Parses `replay`'s arguments; throws UsageError with a message fit for the terminal. */
export function parseReplayArgs(args: readonly string[]): ReplayOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw parseArgsError(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError('replay: no recording files given');

  const target = values.target;
  if (target !== undefined && (values.baseline !== undefined || values.candidate !== undefined))
    throw new UsageError('replay: --target replaces --baseline and --candidate; give one or the other');
  if (target === undefined && (values.baseline === undefined || values.candidate === undefined))
    throw new UsageError('replay: give --baseline URL and --candidate URL, or --target URL');

  const diff = diffOptions(values.ignore ?? [], values['ignore-order'] ?? false, values.tolerance);
  let compiledDiff: CompiledDiffOptions;
  try {
    compiledDiff = compileDiffOptions(diff);
  } catch (error) {
    if (error instanceof CanaryConfigError)
      throw new UsageError(`replay: invalid comparison options (--ignore, --tolerance): ${error.message}`);
    throw error;
  }

  return {
    files: positionals,
    mode: target === undefined ? 'pair' : 'target',
    baseline: target === undefined ? httpUrl('baseline', values.baseline!) : undefined,
    candidate: target === undefined ? httpUrl('candidate', values.candidate!) : httpUrl('target', target),
    concurrency:
      numberOption('concurrency', values.concurrency, { min: 1, max: 10_000, integer: true }) ??
      DEFAULT_CONCURRENCY,
    rate: numberOption('rate', values.rate, { min: 0, max: 1_000_000, exclusiveMin: true }),
    speed: numberOption('speed', values.speed, { min: 0, max: 1_000_000, exclusiveMin: true }),
    timeoutMs: durationOption('timeout', values.timeout) ?? DEFAULT_TIMEOUT_MS,
    methods: methods(values.methods),
    diff,
    compiledDiff,
    maxResponseBytes:
      numberOption('max-response-bytes', values['max-response-bytes'], {
        min: 1,
        max: 1024 * 1024 * 1024,
        integer: true,
      }) ?? DEFAULT_MAX_RESPONSE_BYTES,
    json: nonEmpty('json', values.json),
    report: nonEmpty('report', values.report),
    failUnder: numberOption('fail-under', values['fail-under'], { min: 0, max: 100 }) ?? 100,
    quiet: values.quiet ?? false,
  };
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      baseline: { type: 'string' },
      candidate: { type: 'string' },
      target: { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      speed: { type: 'string' },
      timeout: { type: 'string' },
      methods: { type: 'string' },
      ignore: { type: 'string', multiple: true },
      'ignore-order': { type: 'boolean' },
      tolerance: { type: 'string' },
      'max-response-bytes': { type: 'string' },
      json: { type: 'string' },
      report: { type: 'string' },
      'fail-under': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function diffOptions(
  ignore: readonly string[],
  ignoreOrder: boolean,
  tolerance: string | undefined,
): ResponseDiffOptions {
  const options: { -readonly [K in keyof ResponseDiffOptions]: ResponseDiffOptions[K] } = {};
  if (ignore.length > 0) options.ignore = [...ignore];
  if (ignoreOrder) options.arrayOrder = 'unordered';
  if (tolerance !== undefined) options.tolerance = toleranceOption(tolerance);
  return options;
}

/** `0.01` is an absolute tolerance, `1%` a relative one (0.01 of the larger magnitude). */
function toleranceOption(value: string): Tolerance {
  const percent = value.trim().endsWith('%');
  const n = numberOption('tolerance', percent ? value.trim().slice(0, -1) : value, {
    min: 0,
    max: Number.POSITIVE_INFINITY,
  })!;
  return percent ? { relative: n / 100 } : n;
}

function methods(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return new Set(DEFAULT_METHODS);
  const list = value
    .split(',')
    .map((m) => m.trim().toUpperCase())
    .filter((m) => m !== '');
  if (list.length === 1 && (list[0] === 'ALL' || list[0] === '*')) return undefined;
  if (list.length === 0 || list.some((m) => !/^[A-Z][A-Z-]*$/.test(m)))
    throw new UsageError(
      `--methods: must be a comma-separated list like GET,POST or ALL (got ${JSON.stringify(value)})`,
    );
  return new Set(list);
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${name}: not a URL (got ${JSON.stringify(value)}); expected http://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--${name}: only http and https URLs (got ${JSON.stringify(value)})`);
  if (url.search !== '' || url.hash !== '')
    throw new UsageError(`--${name}: a base URL takes no query or fragment (got ${JSON.stringify(value)})`);
  return url.href;
}

function nonEmpty(name: string, value: string | undefined): string | undefined {
  if (value === '') throw new UsageError(`--${name}: needs a file name`);
  return value;
}
