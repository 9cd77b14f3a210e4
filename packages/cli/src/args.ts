import { UsageError } from './errors.js';

/** A number from an option, within bounds, or a usage error naming the option. */
export function numberOption(
  name: string,
  value: string | undefined,
  { min, max, integer = false, exclusiveMin = false }: NumberBounds,
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  const low = exclusiveMin ? n > min : n >= min;
  if (!Number.isFinite(n) || !low || n > max || (integer && !Number.isInteger(n))) {
    const kind = integer ? 'an integer' : 'a number';
    const range = exclusiveMin ? `> ${min}` : `>= ${min}`;
    const upTo = Number.isFinite(max) ? ` and <= ${max}` : '';
    throw new UsageError(`--${name}: must be ${kind} ${range}${upTo} (got ${JSON.stringify(value)})`);
  }
  return n;
}

export interface NumberBounds {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  readonly exclusiveMin?: boolean;
}

/** Milliseconds from `500`, `500ms`, `2s` or `1.5m`. */
export function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  const ms = match
    ? Number(match[1]) * (match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1)
    : Number.NaN;
  if (!(ms >= 1 && ms <= 3_600_000))
    throw new UsageError(
      `--${name}: must be a duration from 1ms to 1h, like 500, 500ms or 2s (got ${JSON.stringify(value)})`,
    );
  return Math.round(ms);
}

/** The message of whatever node:util parseArgs threw, as a usage error. */
export function parseArgsError(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  return new UsageError(message.replace(/\. To specify a positional argument.*$/s, ''));
}
