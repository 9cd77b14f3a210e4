import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './markdown.js';

const mdIn = (dir: string) =>
  !existsSync(join(ROOT, dir))
    ? []
    : readdirSync(join(ROOT, dir))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `${dir}/${f}`);

/** The documents whose every block is tested. */
export const TESTED_DOCS = [
  'README.md',
  'docs/README.md',
  ...mdIn('docs/adapters'),
  ...mdIn('docs/migration'),
  'docs/configuration.md',
  'docs/rollout.md',
  'docs/shadow.md',
  'docs/overrides.md',
].filter((doc) => existsSync(join(ROOT, doc)));
