import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexLine, ORDER_IDS, v1Line } from './helpers.js';

/**
 * The main recording, written once per test file: a v1 file and a hex-format file with malformed lines at
 * known places. Replayed with the default methods (GET, HEAD, OPTIONS):
 *
 *   GET /items/:id    11 (10 v1 + 1 hex)  all differ at $.price
 *   GET /users/:id    21 (20 v1 + 1 hex)  all match
 *   GET /orders/:id    5                  all differ in status (200 → 409)
 *   GET /health        5                  all match
 *   POST /search       3 (2 v1 + 1 hex)   not replayed unless --methods includes POST
 *
 * 42 replayed, 26 match, 16 mismatch (5 of them status), match rate 26/42 = 61.90 %; 6 malformed lines.
 */
export interface MainRecording {
  readonly dir: string;
  readonly v1: string;
  readonly hex: string;
  /** `file:line` of every malformed line, with a word its message must contain. */
  readonly malformed: readonly { file: string; line: number; says: string }[];
  readonly searchBodies: readonly string[];
}

export const EXPECTED = {
  records: 45,
  replayed: 42,
  match: 26,
  mismatch: 16,
  statusMismatches: 5,
  malformed: 6,
  filtered: 3,
  matchRate: (26 * 100) / 42,
  matchRateText: '61.90 %',
} as const;

export const XSS_LINE = `<script>document.title='pwned'</script>`;

export function writeMainRecording(): MainRecording {
  const dir = mkdtempSync(join(tmpdir(), 'canary-kit-cli-'));
  const v1 = join(dir, 'rec.jsonl');
  const hex = join(dir, 'rec-hex.jsonl');
  const malformed: { file: string; line: number; says: string }[] = [];
  const searchBodies = ['{"q":"red shoes"}', '{"q":"blue hat","page":2}', '{"q":"hex body"}'];

  const lines: string[] = [];
  const bad = (text: string, says: string) => {
    lines.push(text);
    malformed.push({ file: v1, line: lines.length, says });
  };
  for (let i = 1; i <= 10; i++) {
    lines.push(v1Line('GET', `/items/${i}${i % 3 === 0 ? '?view=full' : ''}`));
    if (i === 3) bad('{not json', 'malformed JSON');
  }
  lines.push('');
  for (let i = 1; i <= 20; i++) {
    lines.push(v1Line('GET', `/users/${i}`));
    if (i === 5) bad('{"v":1,"method":"GET"}', 'url');
    if (i === 10) bad('[1,2]', 'not a JSON object');
    if (i === 15) bad(XSS_LINE, 'malformed JSON');
  }
  for (const id of ORDER_IDS) lines.push(v1Line('GET', `/orders/${id}`));
  for (let i = 0; i < 5; i++) lines.push(v1Line('GET', '/health'));
  bad('{"v":1,"method":"GET","url":"/items/1","body":"%%%"}', 'base64');
  lines.push(v1Line('POST', '/search', { body: searchBodies[0]! }));
  lines.push(v1Line('POST', '/search', { body: searchBodies[1]! }));
  writeFileSync(v1, `${lines.join('\n')}\n`);

  const hexLines = [
    hexLine('GET', '/items/77'),
    hexLine('GET', '/users/99'),
    '{"method":"GET","path":"/users/1","body_hex":"abc","timestamp":1735732800}',
    hexLine('POST', '/search', searchBodies[2]),
  ];
  malformed.push({ file: hex, line: 3, says: 'body_hex' });
  writeFileSync(hex, `${hexLines.join('\r\n')}\r\n`);
  return { dir, v1, hex, malformed, searchBodies };
}

/** A recording of `n` GET /users/:id lines, optionally `stepMs` apart. */
export function writeUsers(dir: string, name: string, n: number, stepMs = 1): string {
  const file = join(dir, name);
  const lines: string[] = [];
  for (let i = 1; i <= n; i++)
    lines.push(
      v1Line('GET', `/users/${i}`, { ts: new Date(Date.UTC(2025, 0, 1) + i * stepMs).toISOString() }),
    );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
