import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReadRecord } from './format.js';
import { parseRecord } from './parse-record.js';

export type RecordingLine =
  | { readonly file: string; readonly line: number; readonly record: ReadRecord }
  | { readonly file: string; readonly line: number; readonly error: string };

export interface ReadRecordingsOptions {
  /** A longer line is reported as an error and skipped without being held in memory. Default 64 MiB. */
  maxLineBytes?: number;
}

type RawLine =
  | { readonly line: number; readonly text: string; readonly terminated: boolean }
  | { readonly line: number; readonly tooLong: true };

/**
 * Splits a file into lines as it streams, so memory is bounded by the longest line (itself bounded): a
 * recording can be far larger than memory. `terminated` says whether the line ended with a newline — a last
 * line without one was probably cut off by a crash or a full disk.
 */
async function* splitLines(file: string, maxLineBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let line = 1;
  const text = () => {
    let s = Buffer.concat(parts, size).toString('utf8');
    if (s.endsWith('\r')) s = s.slice(0, -1);
    if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    return s;
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (!skipping && size + piece.length > maxLineBytes) {
        skipping = true;
        parts = [];
        size = 0;
      }
      if (!skipping && piece.length > 0) {
        parts.push(piece);
        size += piece.length;
      }
      if (newline === -1) break;
      yield skipping ? { line, tooLong: true } : { line, text: text(), terminated: true };
      parts = [];
      size = 0;
      skipping = false;
      line++;
      start = newline + 1;
    }
  }
  if (skipping) yield { line, tooLong: true };
  else if (size > 0) yield { line, text: text(), terminated: false };
}

/**
 * Reads recordings for a replay: v1 lines and hex-body lines, file after file, in order. Every line yields a
 * record or an error naming its file and line number; a bad line is skipped, never fatal, and blank lines are
 * ignored. A file that cannot be opened yields one error with line 0.
 */
export async function* readRecordings(
  paths: readonly string[],
  options: ReadRecordingsOptions = {},
): AsyncGenerator<RecordingLine> {
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
  for (const file of paths) {
    try {
      for await (const raw of splitLines(file, maxLineBytes)) {
        if ('tooLong' in raw) {
          yield { file, line: raw.line, error: `line longer than ${maxLineBytes} bytes, skipped` };
          continue;
        }
        if (raw.text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(raw.text);
        } catch (error) {
          const why = (error as Error).message;
          yield {
            file,
            line: raw.line,
            error: raw.terminated
              ? `malformed JSON: ${why}`
              : `truncated last line (no newline at end of file): ${why}`,
          };
          continue;
        }
        const result = parseRecord(value, `${basename(file)}:${raw.line}`);
        yield 'record' in result
          ? { file, line: raw.line, record: result.record }
          : { file, line: raw.line, error: result.error };
      }
    } catch (error) {
      yield { file, line: 0, error: `cannot read: ${(error as Error).message}` };
    }
  }
}

/**
 * The files of a recording, oldest first: `<path>.<n>` … `<path>.1` (rotated, the higher the older), then
 * `<path>` itself. Only the files that exist.
 */
export async function recordingFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const rotated: { n: number; name: string }[] = [];
  let current = false;
  for (const name of names) {
    if (name === base) current = true;
    else if (name.startsWith(`${base}.`)) {
      const suffix = name.slice(base.length + 1);
      if (/^[1-9]\d*$/.test(suffix)) rotated.push({ n: Number(suffix), name });
    }
  }
  rotated.sort((a, b) => b.n - a.n);
  const files = rotated.map((r) => join(dir, r.name));
  if (current) files.push(join(dir, base));
  return files;
}
