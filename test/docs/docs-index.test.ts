// docs/README.md is the table of contents: every page under docs/ is listed there (and linked from the README),
// and every relative link in the README and the docs points at a file that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/markdown.js';
import { TESTED_DOCS } from './support/tested-docs.js';

const pages = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? pages(join(dir, entry.name))
      : entry.name.endsWith('.md')
        ? [join(dir, entry.name)]
        : [],
  );

const prose = (file: string) => readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');

/** Relative link targets of a Markdown file, resolved from the repository root (anchors and URLs left out). */
function links(file: string): string[] {
  return anchoredLinks(file).map((l) => l.target);
}

function anchoredLinks(file: string): { target: string; anchor: string | undefined }[] {
  const out: { target: string; anchor: string | undefined }[] = [];
  for (const m of prose(file).matchAll(/\]\(([^)\s]+)\)/g)) {
    const [path = '', anchor] = m[1]!.split('#');
    if (/^[a-z]+:/.test(path)) continue;
    if (!path && !anchor) continue;
    out.push({ target: path ? relative(ROOT, join(ROOT, dirname(file), path)) : file, anchor });
  }
  return out;
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
function headingAnchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(file).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base);
    seen.set(base, (n ?? -1) + 1);
    out.add(n === undefined ? base : `${base}-${n + 1}`);
  }
  return out;
}

describe('README.md', () => {
  it('keeps the two commands, and CI runs the second one exactly', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const demo = 'npx -y pnpm@10 install && npx -y pnpm@10 demo';
    const test = 'npx -y pnpm@10 install && npx -y pnpm@10 test';
    expect(readme).toContain(demo);
    expect(readme).toContain(test);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8').split('\n')).toContain(test);
  });
});

describe('docs/README.md', () => {
  it('lists every page under docs/', () => {
    const listed = new Set(links('docs/README.md'));
    const missing = pages('docs').filter((p) => p !== join('docs', 'README.md') && !listed.has(p));
    expect(missing, 'pages missing from the table of contents in docs/README.md').toEqual([]);
  });

  it('README.md links every page under docs/ (adapters and migrations included)', () => {
    const listed = new Set(links('README.md'));
    const missing = pages('docs').filter((p) => !listed.has(p));
    expect(missing, 'pages the README does not link').toEqual([]);
  });

  for (const file of TESTED_DOCS) {
    it(`${file}: links to headings point at headings that exist`, () => {
      const dead = anchoredLinks(file)
        .filter((l) => l.anchor && l.target.endsWith('.md') && existsSync(join(ROOT, l.target)))
        .filter((l) => !headingAnchors(l.target).has(l.anchor!))
        .map((l) => `${l.target}#${l.anchor}`);
      expect(dead, `dead anchors in ${file}`).toEqual([]);
    });
  }

  for (const file of ['README.md', 'docs/README.md', ...pages('docs')]) {
    it(`${file}: relative links point at files that exist`, () => {
      const dead = links(file).filter((target) => !existsSync(join(ROOT, target)));
      expect(dead, `dead links in ${file}`).toEqual([]);
    });
  }
});
