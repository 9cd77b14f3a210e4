import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type CapturedResponse, compareResponses, outboundHeaders } from '@canary-kit/core';
import { InputError } from '../errors.js';
import { OutboundClient, OutboundError, type OutboundResponse } from '../outbound.js';
import { type ProgressMode, type ProgressWriter, startProgress } from '../progress.js';
// The recording reader: core's `readRecordings`, mapped to the replay's records.
import { type RecordedRequest, readRecordings } from '../read.js';
import { type Failure, type Origin, ReplayAggregate, type Side } from './aggregate.js';
import type { ReplayOptions } from './options.js';
import { RouteCache } from './route.js';
import { Scheduler } from './scheduler.js';

export interface ReplayRun {
  readonly aggregate: ReplayAggregate;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** The most pairs that were in flight at once. */
  readonly maxInFlight: number;
  /** Stopped early by the signal (Ctrl-C): the rest of the recording was not read. */
  readonly interrupted: boolean;
}

export interface ReplayIo {
  readonly progress: ProgressMode;
  readonly stderr: ProgressWriter;
  /** Aborting stops reading; requests in flight finish and the report covers what was replayed. */
  readonly signal?: AbortSignal | undefined;
}

const NO_DROP: ReadonlySet<string> = new Set();

/** Marks replayed requests, so a service can tell them from live traffic. */
export const REPLAY_HEADER = 'x-canary-kit-replay';

/**
 * Replays every record of `options.files`: each request goes to the baseline and the candidate at once (or,
 * with a target, to the target only, the recorded answer standing in for the baseline), and the two answers
 * are compared with core's `compareResponses`, the differ the shadow traffic uses. Unreadable files throw
 * InputError; everything a server does is counted.
 */
export async function runReplay(options: ReplayOptions, io: ReplayIo): Promise<ReplayRun> {
  await checkFiles(options.files);
  const total = io.progress === 'bar' ? await countLines(options.files) : undefined;
  const aggregate = new ReplayAggregate();
  const scheduler = new Scheduler({
    concurrency: options.concurrency,
    rate: options.rate,
    speed: options.speed,
    signal: io.signal,
  });
  const connections = Math.min(options.concurrency, 256);
  const baseline =
    options.baseline === undefined ? undefined : new OutboundClient(options.baseline, { connections });
  const candidate = new OutboundClient(options.candidate, { connections });
  const routes = new RouteCache();
  let finished = 0;
  const progress = startProgress(io.progress, io.stderr, () => ({
    done: finished + aggregate.malformedCount + notReplayed(aggregate),
    total,
    match: aggregate.match,
    mismatch: aggregate.mismatch,
    skipped: aggregate.skipped,
    errors: aggregate.errors,
  }));
  const startedAt = new Date();

  // Header hygiene once per record (core's outboundHeaders, as for shadow copies); each side gets its Host.
  const baselineHost = baseline?.host;
  const candidateHost = candidate.host;
  const headersFor = (record: RecordedRequest) =>
    outboundHeaders(record.headers, {
      drop: NO_DROP,
      targetHost: baselineHost ?? candidateHost,
      add: { [REPLAY_HEADER]: baselineHost === undefined ? 'candidate' : 'baseline' },
    });

  const send = (
    client: OutboundClient,
    record: RecordedRequest,
    side: Side,
    headers: Record<string, string | string[]>,
  ) =>
    client
      .request({
        method: record.method,
        path: record.url,
        headers,
        body: record.body,
        timeoutMs: options.timeoutMs,
        maxResponseBytes: options.maxResponseBytes,
      })
      .then(
        (response): OutboundResponse | Failure => response,
        (error: unknown): Failure => ({
          side,
          kind: error instanceof OutboundError ? error.kind : 'error',
          message: error instanceof Error ? error.message : String(error),
        }),
      );

  const replayOne = async (file: string, line: number, record: RecordedRequest): Promise<void> => {
    const route = aggregate.route(routes.of(record.method, record.url));
    route.requests++;
    aggregate.replayed++;
    const origin: Origin = { file, line, method: record.method, url: record.url, route: route.route };
    let primary: CapturedResponse;
    let secondary: OutboundResponse;
    const headers = headersFor(record);
    if (baseline !== undefined) {
      const [a, b] = await Promise.all([
        send(baseline, record, 'baseline', headers),
        send(candidate, record, 'candidate', {
          ...headers,
          host: candidateHost,
          [REPLAY_HEADER]: 'candidate',
        }),
      ]);
      if (!('side' in a)) aggregate.latency(route, 'baseline', a.durationMs);
      if (!('side' in b)) aggregate.latency(route, 'candidate', b.durationMs);
      if ('side' in a || 'side' in b) {
        aggregate.failed(
          origin,
          route,
          [a, b].filter((r): r is Failure => 'side' in r),
        );
        return;
      }
      primary = { status: a.status, headers: a.headers, body: a.body, bodyTruncated: a.truncated };
      secondary = b;
    } else {
      const recorded = record.response!;
      aggregate.latency(route, 'baseline', recorded.durationMs);
      const b = await send(candidate, record, 'candidate', headers);
      if ('side' in b) {
        aggregate.failed(origin, route, [b]);
        return;
      }
      aggregate.latency(route, 'candidate', b.durationMs);
      primary = {
        status: recorded.status,
        headers: recorded.headers,
        body: recorded.body,
        bodyTruncated: recorded.bodyTruncated,
      };
      secondary = b;
    }
    const diff = await compareResponses(
      primary,
      {
        status: secondary.status,
        headers: secondary.headers,
        body: secondary.body,
        bodyTruncated: secondary.truncated,
      },
      options.compiledDiff,
    );
    aggregate.compared(origin, route, diff, primary.status, secondary.status);
  };

  let interrupted = false;
  try {
    for await (const entry of readRecordings(options.files)) {
      if (io.signal?.aborted) {
        interrupted = true;
        break;
      }
      if ('error' in entry) {
        // Line 0: the file itself could not be read (an I/O error, not a malformed line).
        if (entry.line === 0) throw new InputError(`${entry.file}: ${entry.error}`);
        aggregate.addMalformed({ file: entry.file, line: entry.line, error: entry.error });
        continue;
      }
      const record = entry.record;
      aggregate.records++;
      if (options.methods !== undefined && !options.methods.has(record.method)) {
        aggregate.skip('method not in --methods');
        continue;
      }
      if (record.bodyTruncated) {
        aggregate.skip('request body truncated in the recording');
        continue;
      }
      if (baseline === undefined && record.response === undefined) {
        aggregate.skip('no recorded response (needed by --target)');
        continue;
      }
      if (!(await scheduler.acquire(record.ts))) {
        interrupted = true;
        break;
      }
      replayOne(entry.file, entry.line, record)
        .catch((error: unknown) => {
          // compareResponses never rejects and the client's failures are caught above: this is a bug.
          const route = aggregate.route(routes.of(record.method, record.url));
          aggregate.failed(
            {
              file: entry.file,
              line: entry.line,
              method: record.method,
              url: record.url,
              route: route.route,
            },
            route,
            [{ side: 'candidate', kind: 'internal', message: String(error) }],
          );
        })
        .finally(() => {
          finished++;
          scheduler.release();
        });
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`cannot read the recording: ${(error as Error).message}`);
  } finally {
    await scheduler.drain();
    progress.stop();
    await Promise.all([baseline?.close(), candidate.close()]);
  }
  return {
    aggregate,
    startedAt,
    finishedAt: new Date(),
    maxInFlight: scheduler.maxInFlight,
    interrupted,
  };
}

function notReplayed(aggregate: ReplayAggregate): number {
  let n = 0;
  for (const count of aggregate.notReplayed.values()) n += count;
  return n;
}

async function checkFiles(files: readonly string[]): Promise<void> {
  for (const file of files) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(
        code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${(error as Error).message})`,
      );
    }
    if (!info.isFile()) throw new InputError(`${file}: not a file`);
  }
}

/** Non-empty lines in the files, for the progress bar's total. */
async function countLines(files: readonly string[]): Promise<number> {
  let lines = 0;
  for (const file of files) {
    let empty = true;
    for await (const chunk of createReadStream(file)) {
      const bytes = chunk as Buffer;
      for (let i = 0; i < bytes.length; i++) {
        const byte = bytes[i]!;
        if (byte === 0x0a) {
          if (!empty) lines++;
          empty = true;
        } else if (byte !== 0x0d && byte !== 0x20 && byte !== 0x09) empty = false;
      }
    }
    if (!empty) lines++;
  }
  return lines;
}
