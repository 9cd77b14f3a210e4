#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { EXIT_USAGE, InputError, UsageError } from './errors.js';
import { replayCommand } from './replay/command.js';
import { signOverrideCommand } from './sign-override.js';
import { vectorsCommand } from './vectors.js';

const USAGE = `Usage: canary-kit <command> [options]

Commands
  replay          replay recorded requests against two versions (or one, against the recorded answers),
                  diff every pair, write JSON/HTML reports, exit 1 below --fail-under
  sign-override   print a signed override value for the x-canary header or canary cookie
  vectors         print the bucketing test vectors, or the bucket of given identities

Run canary-kit <command> --help for a command's options. Exit status 2 means a usage or I/O error.`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  switch (command) {
    case 'replay': {
      // The first Ctrl-C ends the replay early with a report of what was replayed; a second one quits.
      const interrupt = new AbortController();
      process.once('SIGINT', () => {
        process.stderr.write(
          '\ncanary-kit: interrupted; finishing the requests in flight (Ctrl-C again to quit)\n',
        );
        interrupt.abort();
      });
      return replayCommand(args, { ...io, signal: interrupt.signal });
    }
    case 'sign-override':
      return signOverrideCommand(args, io);
    case 'vectors':
      return vectorsCommand(args, io);
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return EXIT_USAGE;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`canary-kit: ${error.message}\nRun canary-kit --help for usage.\n`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof InputError) {
      process.stderr.write(`canary-kit: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(`canary-kit: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT_USAGE;
    }
  },
);
