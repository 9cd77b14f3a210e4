// docs/configuration.md is the configuration reference. Three things keep it true:
// - the catalogue of errors at its end is run: each config raises exactly the issues listed under it;
// - every message the validator's sources can produce matches some message in the catalogue, and every error
//   quoted in the option tables is one of the catalogue's;
// - every option of the config's TypeScript types (read with the TypeScript compiler) has a row in the table of
//   its section, so a new option cannot ship undocumented.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CanaryConfigError, createCanary, type Registry } from '@canary-kit/core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { extractBlocks, ROOT } from './support/markdown.js';

const DOC = 'docs/configuration.md';
const doc = readFileSync(join(ROOT, DOC), 'utf8');

interface Example {
  readonly line: number;
  readonly config: string;
  readonly issues: string[];
}

function catalogue(): Example[] {
  const block = extractBlocks(join(ROOT, DOC)).find((b) => b.annotation?.harness === 'config-errors');
  if (!block) throw new Error(`${DOC}: no <!-- test: config-errors --> block`);
  const examples: Example[] = [];
  block.code.split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    const issue = /^\s+\/\/ → (.*)$/.exec(text);
    if (issue) examples.at(-1)!.issues.push(issue[1]!);
    else examples.push({ line: block.line + 1 + i, config: text, issues: [] });
  });
  return examples;
}

const promClient = createRequire(join(ROOT, 'packages/core/package.json'))('prom-client') as {
  Registry: new () => Registry;
  Histogram: new (o: { name: string; help: string; registers: Registry[] }) => unknown;
};

/** A registry where "another library" already created a metric canary-kit needs. */
function registryWith(name: string): Registry {
  const registry = new promClient.Registry();
  new promClient.Histogram({ name, help: 'made by another library', registers: [registry] });
  return registry;
}

const examples = catalogue();
const catalogueMessages = examples.flatMap((e) => e.issues.map((i) => i.slice(i.indexOf(': ') + 2)));

describe(`${DOC}: the catalogue of errors`, () => {
  it('has examples', () => expect(examples.length).toBeGreaterThan(50));
  for (const example of examples) {
    it(`${DOC}:${example.line} ${example.config}`, async () => {
      const config = new Function('registryWith', `return (${example.config});`)(registryWith);
      let thrown: unknown;
      try {
        const canary = createCanary(config);
        await canary.close();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, `${DOC}:${example.line}: createCanary accepted it`).toBeInstanceOf(CanaryConfigError);
      const issues = (thrown as CanaryConfigError).issues.map((i) => `${i.path || '(root)'}: ${i.message}`);
      expect(issues).toEqual(example.issues);
    });
  }
});

/** Message literals in the validator's sources, as patterns (`${…}` matches anything). */
function sourceMessages(): { file: string; text: string; pattern: RegExp }[] {
  const files = [
    'packages/core/src/config/validate.ts',
    'packages/core/src/config/validate-helpers.ts',
    'packages/core/src/config/validate-rollout.ts',
    'packages/core/src/config/validate-shadow.ts',
    'packages/core/src/recorder/config.ts',
    'packages/core/src/diff/options.ts',
    'packages/core/src/analysis/thresholds.ts',
    'packages/core/src/metrics/canary-metrics.ts',
  ];
  const out: { file: string; text: string; pattern: RegExp }[] = [];
  for (const file of files) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    // `message: '…'`, and the threshold rules' `? undefined : '…'`.
    const literal = /(?:message:\s*|\?\s*undefined\s*:\s*)(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
    for (const m of source.matchAll(literal)) {
      const text = m[2]!.replace(/\\(.)/g, '$1');
      const parts = text.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^()|[\]\\{}$]/g, '\\$&'));
      out.push({ file, text, pattern: new RegExp(`^${parts.join('.*')}$`) });
    }
  }
  return out;
}

/** Messages the validator has but createCanary cannot reach, with the reason. */
const UNREACHABLE = new Map([
  // compileDiffOptions' own guard: through a config, shadow.diff is checked to be an object first.
  ['diff options must be an object', 'shadow.diff is checked first'],
]);

describe(`${DOC}: every error is documented`, () => {
  const messages = sourceMessages();
  it('finds the messages in the sources', () => expect(messages.length).toBeGreaterThan(60));
  for (const { file, text, pattern } of messages) {
    it(`${file}: "${text}"`, () => {
      if (UNREACHABLE.has(text)) return;
      expect(
        catalogueMessages.some((m) => pattern.test(m)),
        `no example in ${DOC} raises "${text}" (${file}): add one to the catalogue`,
      ).toBe(true);
    });
  }

  it('quotes in the option tables only messages the catalogue shows', () => {
    const quoted = new Set<string>();
    for (const line of doc.split('\n')) {
      const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
      // | option | type | default | errors | → ['', option, type, default, errors, '']
      if (cells.length !== 6 || !cells[1]!.startsWith('`')) continue;
      // `as \`users\`` refers to another row; everything else quoted is an error message.
      for (const m of cells[4]!.matchAll(/(as )?`([^`]+)`/g)) if (!m[1]) quoted.add(m[2]!);
    }
    expect(quoted.size).toBeGreaterThan(50);
    const missing = [...quoted].filter((q) => {
      const pattern = new RegExp(
        q
          .replace(/\\`/g, '`')
          .split('…')
          .map((p) => p.replace(/[.*+?^()|[\]\\{}$]/g, '\\$&'))
          .join('.*'),
      );
      return !catalogueMessages.some((m) => pattern.test(m));
    });
    expect(missing, 'errors quoted in the tables that no catalogue example raises').toEqual([]);
  });
});

/** Each config interface and the doc section whose table lists its options. */
const SECTIONS: { file: string; iface: string; heading: string; prefix?: string }[] = [
  { file: 'packages/core/src/config/types.ts', iface: 'CanaryConfig', heading: '## Top level' },
  { file: 'packages/core/src/config/types.ts', iface: 'FlagConfigInput', heading: '## `flags.<key>`' },
  {
    file: 'packages/core/src/config/types.ts',
    iface: 'UpstreamConfig',
    heading: '### `flags.<key>.upstream`',
  },
  {
    file: 'packages/core/src/config/validate-rollout.ts',
    iface: 'RolloutConfig',
    heading: '### `flags.<key>.rollout`',
  },
  {
    file: 'packages/core/src/analysis/thresholds.ts',
    iface: 'AnalysisThresholds',
    heading: '### `flags.<key>.rollout.thresholds`',
  },
  { file: 'packages/core/src/config/types.ts', iface: 'OverridesConfig', heading: '## `overrides`' },
  { file: 'packages/core/src/config/types.ts', iface: 'MetricsConfig', heading: '## `metrics`' },
  { file: 'packages/core/src/config/types.ts', iface: 'ServiceConfig', heading: '## `service`' },
  { file: 'packages/core/src/config/validate-shadow.ts', iface: 'ShadowConfig', heading: '## `shadow`' },
  { file: 'packages/core/src/diff/options.ts', iface: 'DiffOptions', heading: '### `shadow.diff`' },
  { file: 'packages/core/src/diff/options.ts', iface: 'ResponseDiffOptions', heading: '### `shadow.diff`' },
  {
    file: 'packages/core/src/config/validate-rollout.ts',
    iface: 'RolloutRuntimeConfig',
    heading: '## `rollout`',
  },
  {
    file: 'packages/core/src/rollout/webhook.ts',
    iface: 'WebhookConfig',
    heading: '## `rollout`',
    prefix: 'webhook.',
  },
  { file: 'packages/core/src/recorder/config.ts', iface: 'RecorderConfig', heading: '## `recorder`' },
];

/** An interface's options: `name`, and `name.child` for members typed with an object literal. */
function optionsOf(file: string, iface: string): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(ROOT, file), 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  let found: ts.InterfaceDeclaration | undefined;
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === iface) found = node;
  });
  if (!found) throw new Error(`${file}: no interface ${iface}`);
  const names: string[] = [];
  const walk = (members: ts.NodeArray<ts.TypeElement>, prefix: string) => {
    for (const member of members) {
      if (!ts.isPropertySignature(member) || !member.name) continue;
      const name = `${prefix}${member.name.getText(source)}`;
      names.push(name);
      const type = member.type;
      const literals = type && ts.isUnionTypeNode(type) ? type.types : type ? [type] : [];
      for (const t of literals) if (ts.isTypeLiteralNode(t)) walk(t.members, `${name}.`);
    }
  };
  walk(found.members, '');
  return names;
}

/** The backticked names in the first column of the tables of a section (up to the next heading). */
function documentedOptions(heading: string): Set<string> {
  const start = doc.split('\n').findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`${DOC}: no heading "${heading}"`);
  const lines = doc.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => l.startsWith('#'));
  const names = new Set<string>();
  for (const line of lines.slice(0, end < 0 ? undefined : end)) {
    const m = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

describe(`${DOC}: every option of the types has a row`, () => {
  for (const { file, iface, heading, prefix = '' } of SECTIONS) {
    it(`${iface} (${file}) → ${heading}`, () => {
      const documented = documentedOptions(heading);
      const missing = optionsOf(file, iface)
        .map((name) => prefix + name)
        .filter((name) => !documented.has(name));
      expect(missing, `options of ${iface} without a row under "${heading}" in ${DOC}`).toEqual([]);
    });
  }
});
