/** A problem with the command line: printed with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A file that cannot be read or written, a report that cannot be saved: exit status 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** Exit statuses, documented in docs/replay.md. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
