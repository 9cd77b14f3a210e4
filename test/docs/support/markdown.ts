import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: block locations are reported relative to it, as `README.md:42`. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * One fenced code block of a Markdown file and the test annotation in front of it.
 *
 * The annotation is an HTML comment on the lines right above the fence (blank lines allowed), invisible when
 * the Markdown is rendered:
 *
 *     <!-- test: express GET /checkout -> 200 -->
 *
 * Its first word names the harness that runs the block; the rest is the harness's to read.
 */
export interface CodeBlock {
  /** `README.md:42`: the file relative to the repository and the line of the opening fence. */
  readonly where: string;
  readonly file: string;
  readonly line: number;
  /** The fence's info string, first word (`ts`, `js`, `sh`, `json`, or '' for a bare fence). */
  readonly lang: string;
  readonly code: string;
  readonly annotation: Annotation | undefined;
}

export interface Annotation {
  readonly harness: string;
  /** Everything after the harness name, trimmed (may span lines). */
  readonly args: string;
}

const FENCE = /^(\s*)(```+|~~~+)\s*([\w+-]*)/;
const ANNOTATION = /^<!--\s*test:\s*([\w-]+)([\s\S]*?)-->\s*$/;

/** Every fenced block of `file`, in order. Indented fences (inside list items) count too. */
export function extractBlocks(file: string): CodeBlock[] {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  const rel = relative(ROOT, file);
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '```', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(fence[0]!.repeat(fence.length)) && line.trim().replace(/[`~]/g, '') === '')
        break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    blocks.push({
      where: `${rel}:${i + 1}`,
      file: rel,
      line: i + 1,
      lang: lang.toLowerCase(),
      code: `${body.join('\n')}\n`,
      annotation: annotationAbove(lines, i),
    });
    i = j;
  }
  return blocks;
}

/** The `<!-- test: … -->` comment ending on the nearest non-blank line above line `index`, if any. */
function annotationAbove(lines: readonly string[], index: number): Annotation | undefined {
  let end = index - 1;
  while (end >= 0 && lines[end]!.trim() === '') end--;
  if (end < 0 || !lines[end]!.trim().endsWith('-->')) return undefined;
  let start = end;
  while (start >= 0 && !lines[start]!.includes('<!--')) start--;
  if (start < 0) return undefined;
  const comment = lines
    .slice(start, end + 1)
    .map((l) => l.trim())
    .join('\n');
  const match = ANNOTATION.exec(comment);
  if (!match) return undefined;
  return { harness: match[1]!, args: (match[2] ?? '').trim() };
}
