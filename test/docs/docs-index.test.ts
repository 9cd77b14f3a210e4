// docs/README.md is the table of contents: every page under docs/ is listed there (and linked from the README),
// and every relative link in the README and the docs points at a file that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/markdown.js';

const pages = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? pages(join(dir, entry.name))
      : entry.name.endsWith('.md')
        ? [join(dir, entry.name)]
        : [],
  );

/** Relative link targets of a Markdown file, resolved from the repository root (anchors and URLs left out). */
function links(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split('#')[0]!;
    if (!target || /^[a-z]+:/.test(target)) continue;
    out.push(relative(ROOT, join(ROOT, dirname(file), target)));
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

  for (const file of ['README.md', 'docs/README.md', ...pages('docs')]) {
    it(`${file}: relative links point at files that exist`, () => {
      const dead = links(file).filter((target) => !existsSync(join(ROOT, target)));
      expect(dead, `dead links in ${file}`).toEqual([]);
    });
  }
});
