// Node module hooks that let a child process run this repo's TypeScript sources directly (no build): `.ts`
// files are transpiled one by one with TypeScript's transpileModule (the repo uses isolatedModules and
// verbatimModuleSyntax, so per-file transpilation is exact), and the `.js` specifiers the sources use resolve to
// their `.ts` files. Start node with `--conditions=@canary-kit/source --import <register-ts.mjs>`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const compilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  verbatimModuleSyntax: true,
  inlineSourceMap: true,
};

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const fromTs = context.parentURL?.endsWith('.ts') === true;
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && fromTs && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const { outputText } = ts.transpileModule(source, { fileName, compilerOptions });
  return { format: 'module', source: outputText, shortCircuit: true };
}
