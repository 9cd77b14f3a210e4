import { writeFile } from 'node:fs/promises';
import { EXIT_FAILED, EXIT_OK, InputError } from '../errors.js';
import { progressMode } from '../progress.js';
import { renderHtml } from '../report/html.js';
import { buildReport, reportJson } from '../report/json.js';
import { renderSummary } from '../report/text.js';
import { parseReplayArgs, REPLAY_USAGE } from './options.js';
import { runReplay } from './run.js';

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Ctrl-C: stop reading, let requests in flight finish, report what was replayed. */
  readonly signal?: AbortSignal;
}

/** `canary-kit replay`: exit 0 at or above --fail-under, 1 below; usage and I/O errors throw (exit 2). */
export async function replayCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseReplayArgs(args);
  if (options === 'help') {
    io.stdout.write(`${REPLAY_USAGE}\n`);
    return EXIT_OK;
  }
  const run = await runReplay(options, {
    progress: progressMode(io.stderr, options.quiet),
    stderr: io.stderr,
    signal: io.signal,
  });
  const report = buildReport(options, run);
  if (options.report !== undefined) await save(options.report, renderHtml(report), 'HTML report');
  const jsonToStdout = options.json === '-';
  if (options.json !== undefined && !jsonToStdout)
    await save(options.json, reportJson(report), 'JSON report');
  // With the JSON report on stdout, the human summary moves to stderr so stdout stays parseable.
  (jsonToStdout ? io.stderr : io.stdout).write(renderSummary(report));
  if (jsonToStdout) io.stdout.write(reportJson(report));
  return report.gate.passed ? EXIT_OK : EXIT_FAILED;
}

async function save(file: string, content: string, what: string): Promise<void> {
  try {
    await writeFile(file, content);
  } catch (error) {
    throw new InputError(`cannot write the ${what} to ${file}: ${(error as Error).message}`);
  }
}
