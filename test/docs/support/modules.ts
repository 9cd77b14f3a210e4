import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './markdown.js';

/**
 * Turns a documentation block into a module that runs for real.
 *
 * A block is written for a reader: it may use `app`, `flags` or a handler such as `oldCheckout` without
 * declaring them, and it may leave out its imports. The module adds, in front of the block and only for names
 * the block uses but does not declare:
 *  - imports of the public exports of the packages of its environment (`createCanary`, `canaryRoute`, …);
 *  - stand-ins ("stubs") for the application's own parts: handlers that answer `{ handler: '<name>' }`, an
 *    `app` with canary-kit mounted, a `canary` knowing every flag the docs use, a `log`.
 * After the block it exports every top-level name, so the harness can reach the block's `app` and `canary`.
 * The block's own text is never edited, except that `*.internal` URLs point at local stand-in services and
 * relative data files (`./flags.json`) at a scratch directory.
 */

export type EnvName = 'core' | 'express' | 'fastify' | 'nest';

interface Stub {
  readonly name: string;
  readonly code: (block: string) => string;
  readonly deps?: readonly string[];
}

const NEST_DIR = join(ROOT, 'packages/nestjs');
const requireFromNest = createRequire(join(NEST_DIR, 'package.json'));

interface EnvSpec {
  /** Where the module is written: inside the repo, so workspace packages (and Nest's peers) resolve. */
  readonly dir: string;
  /** Packages whose named exports a block may use unimported. */
  readonly packages: readonly string[];
  /** Default imports a block may use unimported. */
  readonly defaults: Readonly<Record<string, string>>;
  readonly types: Readonly<Record<string, string>>;
  readonly stubs: readonly Stub[];
  /** Extra lines at the very top (e.g. `import 'reflect-metadata'`). */
  readonly head?: string;
}

const handlerNames = [
  'oldCheckout',
  'newCheckout',
  'checkout',
  'getReport',
  'search',
  'suggest',
  'facets',
  'createOrder',
  'saveSearch',
  'getCart',
  'addItem',
  'saveCart',
  'saveCartV2',
  'getOrder',
  'show',
];
const dataNames = ['oldCart', 'newCart', 'oldSearch', 'newSearch'];

const commonStubs: Stub[] = [
  { name: 'flags', code: () => 'const flags = __h.docFlags();' },
  { name: 'log', code: () => 'const log = __h.log;' },
  { name: 'pager', code: () => 'const pager = __h.pager;' },
  { name: 'secret', code: () => 'const secret = String(process.env.CANARY_OVERRIDE_SECRET);' },
  { name: 'registry', code: () => 'const registry = new Registry();', deps: ['Registry'] },
  {
    name: 'canary',
    code: () => 'const canary = createCanary({ flags: __h.docFlags() });',
    deps: ['createCanary'],
  },
  ...dataNames.map((name) => ({ name, code: () => `const ${name} = __h.data(${JSON.stringify(name)});` })),
];

/** Packages beside the core a block may use unimported in every environment. */
const EXTRA = ['@canary-kit/redis', '@canary-kit/prometheus', '@canary-kit/openfeature'];

const ENVS: Record<EnvName, EnvSpec> = {
  core: {
    dir: join(ROOT, 'test/docs/.tmp'),
    packages: ['@canary-kit/core', ...EXTRA],
    defaults: {},
    types: { Decision: '@canary-kit/core', EvalContext: '@canary-kit/core' },
    stubs: commonStubs,
  },
  express: {
    dir: join(ROOT, 'test/docs/.tmp'),
    packages: ['@canary-kit/core', '@canary-kit/express', ...EXTRA],
    defaults: { express: 'express' },
    types: { Decision: '@canary-kit/core', EvalContext: '@canary-kit/core' },
    stubs: [
      ...commonStubs,
      ...handlerNames.map((name) => ({
        name,
        code: () => `const ${name} = __h.expressHandler(${JSON.stringify(name)});`,
      })),
      { name: 'context', code: () => 'const context = __h.expressContext;' },
      {
        name: 'app',
        // Mounted lazily: the block may declare its `canary` after using `app`.
        code: (block) =>
          block.includes('canaryMiddleware(')
            ? 'const app = express();'
            : 'const app = express();\nlet __mw;\napp.use((req, res, next) => __mw(req, res, next));',
        deps: ['express', 'canaryMiddleware', 'canary'],
      },
      {
        name: 'router',
        code: () => "const router = express.Router();\napp.use('/router', router);",
        deps: ['express', 'app'],
      },
    ],
  },
  fastify: {
    dir: join(ROOT, 'test/docs/.tmp'),
    packages: ['@canary-kit/core', '@canary-kit/fastify', ...EXTRA],
    defaults: { Fastify: 'fastify', canaryPlugin: '@canary-kit/fastify' },
    types: {
      Decision: '@canary-kit/core',
      RequestCanary: '@canary-kit/core',
      CanaryRouteConfig: '@canary-kit/fastify',
    },
    stubs: [
      ...commonStubs,
      ...handlerNames.map((name) => ({
        name,
        code: () => `const ${name} = __h.fastifyHandler(${JSON.stringify(name)});`,
      })),
      { name: 'requireOpsToken', code: () => 'const requireOpsToken = __h.requireOpsToken;' },
      {
        name: 'app',
        // Fastify reads a function as plugin options when it loads the plugin, after the block has run.
        code: (block) =>
          block.includes('canaryPlugin')
            ? 'const app = Fastify();'
            : 'const app = Fastify();\napp.register(canaryPlugin, () => ({ canary, context: __h.fastifyContext }));',
        deps: ['Fastify', 'canaryPlugin', 'canary'],
      },
    ],
  },
  nest: {
    dir: join(NEST_DIR, 'test/.tmp'),
    packages: ['@canary-kit/core', '@canary-kit/nestjs', '@nestjs/common', '@nestjs/core'],
    defaults: {},
    types: { Decision: '@canary-kit/core', EvalContext: '@canary-kit/core' },
    head: "import 'reflect-metadata';",
    stubs: [
      ...commonStubs,
      // @nestjs/config's classes are types too (`config: ConfigService`).
      {
        name: 'ConfigService',
        code: () => 'const ConfigService = __h.nest.ConfigService;\ntype ConfigService = any;',
      },
      { name: 'ConfigModule', code: () => 'const ConfigModule = __h.nest.ConfigModule;' },
      { name: 'AppModule', code: () => 'const AppModule = __h.nest.AppModule;' },
    ],
  },
};

const exportCache = new Map<string, readonly string[]>();

async function exportsOf(specifier: string): Promise<readonly string[]> {
  let names = exportCache.get(specifier);
  if (!names) {
    try {
      const mod = (
        specifier.startsWith('@nestjs/') ? requireFromNest(specifier) : await import(specifier)
      ) as Record<string, unknown>;
      names = Object.keys(mod);
    } catch {
      names = []; // a package not installed in this checkout offers nothing to import
    }
    exportCache.set(specifier, names);
  }
  return names;
}

const IDENT = /[A-Za-z_$][\w$]*/g;

/** The code with comments and string contents blanked, so only real identifiers are seen. */
function codeOnly(code: string): string {
  return code
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, '""');
}

/** Identifiers the block uses as variables (not `.property`, not `{ key: … }`). */
export function usedNames(code: string): Set<string> {
  const text = codeOnly(code);
  const used = new Set<string>();
  for (const match of text.matchAll(IDENT)) {
    const before = text.slice(0, match.index).trimEnd();
    const after = text.slice(match.index + match[0].length);
    if (before.endsWith('.') && !before.endsWith('...')) continue;
    if (/^\s*:/.test(after) && /[{,(]$/.test(before) && !/^\s*::/.test(after)) continue;
    used.add(match[0]);
  }
  return used;
}

export interface Declared {
  /** Every name the block binds at top level (imports included). */
  readonly all: Set<string>;
  /** Top-level values the block declares and does not export itself: the module exports them. */
  readonly toExport: Set<string>;
}

export function declaredNames(code: string): Declared {
  const all = new Set<string>();
  const toExport = new Set<string>();
  const text = codeOnly(code);
  for (const m of text.matchAll(/^\s*import\s+(?:type\s+)?([\s\S]*?)\s+from\s/gm)) {
    const clause = m[1]!;
    for (const part of clause.replace(/[{}]/g, ',').split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+|\s+/)
        .at(-1);
      if (name && /^[A-Za-z_$][\w$]*$/.test(name)) all.add(name);
    }
  }
  const decl =
    /^(?:@[^\n]*?\s)?(export\s+)?(?:async\s+)?(?:const|let|var|class|function|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of text.matchAll(decl)) {
    all.add(m[2]!);
    const isType = /\b(?:interface|type)\s+$/.test(m[0].slice(0, m[0].length - m[2]!.length));
    if (!m[1] && !isType) toExport.add(m[2]!);
  }
  return { all, toExport };
}

export interface BuiltModule {
  readonly file: string;
  readonly source: string;
}

let counter = 0;

/** Writes the block as a module of `env` and returns its path; `urls` maps `*.internal` hosts to local servers. */
export async function buildModule(
  env: EnvName,
  code: string,
  lang: string,
  urls: ReadonlyMap<string, string>,
  id: string,
  scratch: string,
): Promise<BuiltModule> {
  const spec = ENVS[env];
  const block = code
    .replace(/http:\/\/([\w-]+\.internal)(?::\d+)?/g, (all, host: string) => urls.get(host) ?? all)
    .replace(/redis:\/\/([\w-]+\.internal)(?::\d+)?/g, (all, host: string) => urls.get(host) ?? all)
    // Files a block writes (`'./recordings/requests.jsonl'`, `'./flags.json'`) go to a scratch directory.
    .replace(
      /(['"])\.\/(?:[\w.-]+\/)*([\w.-]+\.(?:jsonl?|html))\1/g,
      (_all, quote: string, name: string) => `${quote}${scratch}/${name}${quote}`,
    );
  const used = usedNames(block);
  const declared = declaredNames(block);
  const need = (name: string) => used.has(name) && !declared.all.has(name);

  const stubs: Stub[] = [];
  const wanted = new Set<string>();
  const addStub = (name: string) => {
    if (wanted.has(name) || declared.all.has(name)) return;
    const stub = spec.stubs.find((s) => s.name === name);
    if (!stub) {
      wanted.add(name); // an import, resolved below
      return;
    }
    wanted.add(name);
    for (const dep of stub.deps ?? []) addStub(dep);
    stubs.push(stub);
  };
  for (const name of used) if (need(name)) addStub(name);

  const imports: string[] = [];
  for (const [name, specifier] of Object.entries(spec.defaults)) {
    if (wanted.has(name) && !stubs.some((s) => s.name === name)) {
      imports.push(`import ${name} from '${specifier}';`);
      wanted.delete(name);
    }
  }
  const named = new Map<string, string[]>();
  for (const specifier of spec.packages) {
    const names = await exportsOf(specifier);
    for (const name of [...wanted]) {
      if (stubs.some((s) => s.name === name) || !names.includes(name)) continue;
      named.set(specifier, [...(named.get(specifier) ?? []), name]);
      wanted.delete(name);
    }
  }
  for (const [specifier, names] of named) imports.push(`import { ${names.join(', ')} } from '${specifier}';`);
  for (const [name, specifier] of Object.entries(spec.types)) {
    if (wanted.has(name)) imports.push(`import type { ${name} } from '${specifier}';`);
  }

  // Stubs in dependency order (addStub pushed dependencies first), so `app` sees `express` and `canary`.
  const prelude = stubs.map((s) => s.code(block));
  const exported = new Set([...declared.toExport, ...stubs.map((s) => s.name)]);
  const epilogue: string[] = [];
  if (prelude.some((p) => p.includes('let __mw;'))) {
    epilogue.push('__mw = canaryMiddleware(canary, { context: __h.expressContext });');
  }
  epilogue.push(`export { ${[...exported].join(', ')} };`);

  const source = [
    '// Generated by test/docs from a documentation block; deleted after the run.',
    spec.head ?? '',
    ...imports,
    'const __h = (globalThis as any).__docHarness;'.replace(' as any', lang === 'ts' ? ' as any' : ''),
    ...prelude,
    '// ---- the block ----',
    block,
    '// ---- exports for the harness ----',
    ...epilogue,
  ].join('\n');
  // One directory per test process: test files run in parallel and each removes only its own.
  const dir = join(spec.dir, String(process.pid));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `block-${counter++}-${id}.${lang === 'ts' ? 'ts' : 'js'}`);
  writeFileSync(file, source);
  return { file, source };
}

export function removeModules(): void {
  for (const spec of Object.values(ENVS)) {
    rmSync(join(spec.dir, String(process.pid)), { recursive: true, force: true });
    try {
      rmdirSync(spec.dir); // only when empty: another test process may still be using it
    } catch {}
  }
}
