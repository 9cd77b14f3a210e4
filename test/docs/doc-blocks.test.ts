// Every fenced code block of the README, the adapter guides, the migration guides and the configuration, rollout,
// shadow and overrides pages is exercised: programs run against the real packages with real servers and their
// answers are checked, shell commands are checked against the scripts, packages and CLI that exist, JSON is parsed
// (and validated when it is a config), samples of output are compared with what the code produces. A block is tied
// to its test by an HTML comment right above it; a block without one fails this test, naming the file and line —
// new blocks are picked up by themselves.
//
//   <!-- test: express|fastify|nest|core CHECKS -->  run the ts/js block in that environment (support/modules.ts:
//        names it uses unimported are imported from the packages; app parts it leaves out are stubbed), then the
//        CHECKS, `;`-separated (support/run-block.ts): `GET /path header:value -> 200 ~text`,
//        `split FLAG GET /path`, `metrics /metrics`, `seen HOST.internal GET /path`, `unseen …`,
//        `headers HOST -name +name=value`, `recorded GET /path`, `evaluate FLAG USER -> VERSION REASON [BUCKET]`,
//        `override VAR FLAG -> VERSION`, `same-as-unleash FLAG ROLLOUT GROUPID`. `listen(3000)` moves to a free
//        port; `http://NAME.internal` URLs get a local stand-in service, `redis://NAME.internal` a real
//        redis-server; relative data files (`./flags.json`) go to a scratch directory.
//   <!-- test: sh -->                 commands: root/package scripts, installable names, files, CLI arguments
//   <!-- test: json [config|flags|file-store|unleash-toggle|fastify-upstream-reset] -->
//   <!-- test: metrics|cookie -->     a sample of /metrics or a Set-Cookie header, against a real app
//   <!-- test: warning FILE -->       a warning's text, against the message in the source file
//   <!-- test: types FILE -->         a type declaration, against the source file
//   <!-- test: nginx|python -->       "before" configs and scripts of the migration guides
//   <!-- test: config-error CONFIG -->, <!-- test: config-errors -->, <!-- test: analysis-event -->,
//   <!-- test: override-values … -->  see the functions they name below.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analysisEventOfScenario, withoutTimes } from './support/analysis-scenario.js';
import { type CodeBlock, extractBlocks, ROOT } from './support/markdown.js';
import { removeModules } from './support/modules.js';
import {
  checkConfigErrorSample,
  checkCookieSample,
  checkJsonBlock,
  checkMetricsSample,
  checkNginxBlock,
  checkOverrideValues,
  checkPythonBlock,
  checkShellBlock,
  checkTypesBlock,
  checkWarningSample,
} from './support/other-blocks.js';
import { runCodeBlock } from './support/run-block.js';
import { installStandIns } from './support/stand-ins.js';
import { TESTED_DOCS } from './support/tested-docs.js';

const HARNESSES = [
  'core',
  'express',
  'fastify',
  'nest',
  'sh',
  'json',
  'metrics',
  'cookie',
  'warning',
  'types',
];

async function runBlock(block: CodeBlock): Promise<void> {
  const annotation = block.annotation;
  if (!annotation) {
    throw new Error(
      `${block.where}: this \`\`\`${block.lang} block has no test. Put \`<!-- test: <harness> … -->\` on the line above it ` +
        `(harnesses: ${HARNESSES.join(', ')}; see test/docs/support/run-block.ts).`,
    );
  }
  const { harness, args } = annotation;
  switch (harness) {
    case 'core':
    case 'express':
    case 'fastify':
    case 'nest':
      expect(['ts', 'js'], `${block.where}: a ${harness} block is ts or js`).toContain(block.lang);
      return runCodeBlock(block, harness, args);
    case 'sh':
      return checkShellBlock(block);
    case 'json':
      return checkJsonBlock(block, args);
    case 'metrics':
      return checkMetricsSample(block);
    case 'cookie':
      return checkCookieSample(block);
    case 'warning':
      return checkWarningSample(block, args);
    case 'types':
      return checkTypesBlock(block, args);
    case 'nginx':
      return checkNginxBlock(block);
    case 'python':
      return checkPythonBlock(block);
    case 'analysis-event': {
      // The example event is what the code produces for the scenario the docs describe (times aside).
      const real = await analysisEventOfScenario();
      expect(withoutTimes(JSON.parse(block.code)), block.where).toEqual(withoutTimes(real));
      return;
    }
    case 'override-values':
      return checkOverrideValues(block, args);
    case 'config-error':
      return checkConfigErrorSample(block, args);
    case 'config-errors':
      // The catalogue of docs/configuration.md: each entry is run by configuration-reference.test.ts.
      expect(block.file).toBe('docs/configuration.md');
      return;
    default:
      throw new Error(`${block.where}: unknown harness "${harness}" (one of ${HARNESSES.join(', ')})`);
  }
}

installStandIns();
afterAll(() => removeModules());

for (const doc of TESTED_DOCS) {
  describe(doc, () => {
    const blocks = extractBlocks(join(ROOT, doc));
    it('has a test for each code block', () => {
      const untested = blocks.filter((b) => !b.annotation).map((b) => b.where);
      expect(untested, 'blocks without a <!-- test: … --> annotation').toEqual([]);
    });
    for (const block of blocks) {
      it(`${block.where} (${block.lang || 'text'}, ${block.annotation?.harness ?? 'no test'})`, () =>
        runBlock(block));
    }
  });
}
