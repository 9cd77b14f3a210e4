// TypeScript blocks of the docs are copied into TypeScript apps, so running them is not enough: they must also
// type-check, under the repository's strict settings, against the packages' own types. Each ts block is built into
// the same module doc-blocks.test.ts runs (its environment's imports and stand-ins, which are typed `any`), and
// all of them are checked in one TypeScript program.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
import { extractBlocks, ROOT } from './support/markdown.js';
import { buildModule, type EnvName, removeModules } from './support/modules.js';
import { TESTED_DOCS } from './support/tested-docs.js';

const ENVS = new Set(['core', 'express', 'fastify', 'nest']);

afterAll(() => removeModules());

it('every TypeScript block type-checks (strict, the repository settings)', async () => {
  const scratch = join(ROOT, 'test/docs/.tmp/typecheck-scratch');
  const files = new Map<string, string>(); // generated file → the block it came from
  for (const doc of TESTED_DOCS) {
    for (const block of extractBlocks(join(ROOT, doc))) {
      const env = block.annotation?.harness;
      if (block.lang !== 'ts' || !env || !ENVS.has(env)) continue;
      const id = `${block.file.replace(/\W+/g, '-')}-${block.line}`;
      const built = await buildModule(env as EnvName, block.code, 'ts', new Map(), id, scratch);
      files.set(built.file, block.where);
    }
  }
  expect(files.size).toBeGreaterThan(5);

  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  const program = ts.createProgram([...files.keys()], { ...config!.options, noEmit: true });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.has(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = d.file!.text.split('\n')[line]?.trim();
      return `${files.get(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}\n    ${text}`;
    });
  rmSync(scratch, { recursive: true, force: true });
  expect(problems, 'type errors in documentation blocks').toEqual([]);
}, 300_000); // one TypeScript program over every package's sources: ~20 s of CPU
