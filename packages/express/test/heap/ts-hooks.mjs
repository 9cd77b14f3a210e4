// Module hooks that let a plain `node` child process run the workspace's TypeScript sources (the packages'
// `@canary-kit/source` export condition points at `src/*.ts`), so the heap test measures the code under test,
// not a stale build. Registered by ts-register.mjs. Types are stripped with rolldown's transform (oxc, fast;
// reached through tsdown, the workspace's build tool), or TypeScript's transpileModule if that is not found.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

async function loadTransformer() {
  try {
    const tsdown = createRequire(import.meta.url).resolve('tsdown/package.json');
    const rolldown = createRequire(tsdown).resolve('rolldown/experimental');
    const { transform } = await import(pathToFileURL(rolldown).href);
    return async (url, source) => {
      const result = await transform(fileURLToPath(url), source, {});
      if (result.errors.length > 0)
        throw new Error(`${url}: ${result.errors.map((e) => e.message).join('; ')}`);
      return result.code;
    };
  } catch (error) {
    if (process.env.CANARY_KIT_HOOKS_DEBUG) console.error('rolldown transform unavailable:', error);
    const { default: ts } = await import('typescript');
    return async (url, source) =>
      ts.transpileModule(source, {
        fileName: url,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
  }
}

let transformer;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    // Sources import each other as `./x.js` (NodeNext style); the file on disk is `./x.ts`.
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts'))
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  transformer ??= loadTransformer();
  const source = await readFile(new URL(url), 'utf8');
  return { format: 'module', source: await (await transformer)(url, source), shortCircuit: true };
}
