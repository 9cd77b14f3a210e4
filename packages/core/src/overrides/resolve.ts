import type { NormalizedOverrides } from '../config/types.js';
import type { EvalContext } from '../types.js';
import { type OverrideOutcome, type OverrideValue, type ParsedOverride, parseOverride } from './parse.js';

export type OverrideSource = 'header' | 'cookie';

/** The overrides a request may use, after trust and signatures were checked. */
export interface RequestOverrides {
  readonly header: ParsedOverride | undefined;
  readonly cookie: ParsedOverride | undefined;
}

export type OverrideRecorder = (source: OverrideSource, outcome: OverrideOutcome) => void;

function decodeCookie(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * Checks a request's raw override values once: parses, verifies signatures and expiry, asks `trust` at most
 * once, and records one outcome per value present. Returns undefined when nothing may be honoured.
 */
export function resolveOverrides(
  context: EvalContext,
  config: NormalizedOverrides,
  record: OverrideRecorder,
  onTrustError: (error: unknown) => void,
): RequestOverrides | undefined {
  const input = context.overrides;
  if (input === null || typeof input !== 'object') return undefined;
  const rawHeader = config.header === false ? undefined : input.header;
  // Repeated headers arrive as an array; anything but strings in it is malformed input, ignored.
  const headerValue = Array.isArray(rawHeader)
    ? rawHeader.every((h) => typeof h === 'string')
      ? rawHeader.join(',')
      : undefined
    : rawHeader;
  const cookieRaw = config.cookie === false ? undefined : input.cookie;
  if (typeof headerValue !== 'string' && typeof cookieRaw !== 'string') return undefined;

  const now = Math.floor(Date.now() / 1000);
  let trusted: boolean | undefined;
  const isTrusted = (): boolean => {
    if (trusted === undefined) {
      trusted = false;
      if (config.trust) {
        try {
          trusted = config.trust(context) === true;
        } catch (error) {
          onTrustError(error);
        }
      }
    }
    return trusted;
  };

  const check = (source: OverrideSource, raw: unknown): ParsedOverride | undefined => {
    if (typeof raw !== 'string') return undefined;
    const decoded = source === 'cookie' ? decodeCookie(raw) : raw;
    if (decoded === undefined) {
      record(source, 'invalid');
      return undefined;
    }
    const result = parseOverride(decoded, config.secrets, now);
    if (result.outcome !== 'ok') {
      record(source, result.outcome);
      return undefined;
    }
    if (!result.override.signed && !isTrusted()) {
      record(source, 'untrusted');
      return undefined;
    }
    record(source, 'honoured');
    return result.override;
  };

  const header = check('header', headerValue);
  const cookie = check('cookie', cookieRaw);
  return header || cookie ? { header, cookie } : undefined;
}

/** Header before cookie; within one value, a flag's own entry before the global one. */
export function overrideFor(flag: string, overrides: RequestOverrides): OverrideValue | undefined {
  const { header, cookie } = overrides;
  return header?.flags?.get(flag) ?? header?.global ?? cookie?.flags?.get(flag) ?? cookie?.global;
}
