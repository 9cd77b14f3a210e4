/**
 * Replay progress on stderr: a bar redrawn in place on a terminal, a plain line every second otherwise (CI
 * logs, pipes), and nothing with `--quiet`. Progress reads a snapshot on its own timer, so the replay loop
 * pays nothing per request.
 */

export interface ProgressSnapshot {
  /** Requests finished (answered, failed or not replayed) and malformed lines. */
  readonly done: number;
  /** Lines in the input when known (the bar counts them first), else undefined. */
  readonly total: number | undefined;
  readonly match: number;
  readonly mismatch: number;
  readonly skipped: number;
  readonly errors: number;
}

export type ProgressMode = 'bar' | 'plain' | 'none';

export interface ProgressWriter {
  write(text: string): unknown;
  readonly columns?: number | undefined;
}

export interface Progress {
  stop(): void;
}

/** `bar` on a terminal, `plain` otherwise, `none` when quiet. */
export function progressMode(stream: { isTTY?: boolean }, quiet: boolean): ProgressMode {
  if (quiet) return 'none';
  return stream.isTTY === true ? 'bar' : 'plain';
}

export function startProgress(
  mode: ProgressMode,
  out: ProgressWriter,
  snapshot: () => ProgressSnapshot,
  now: () => number = () => performance.now(),
): Progress {
  if (mode === 'none') return { stop() {} };
  const started = now();
  const draw = () => {
    const s = snapshot();
    const seconds = (now() - started) / 1000;
    if (mode === 'bar') out.write(`\r${renderBar(s, seconds, out.columns || 80)}\u001b[K`);
    else out.write(`${renderLine(s, seconds)}\n`);
  };
  const timer = setInterval(draw, mode === 'bar' ? 100 : 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      draw();
      if (mode === 'bar') out.write('\n');
    },
  };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function renderLine(s: ProgressSnapshot, seconds: number): string {
  const of = s.total === undefined ? '' : `/${int.format(s.total)}`;
  const rate = seconds > 0 ? `, ${int.format(s.done / seconds)}/s` : '';
  return `replay: ${int.format(s.done)}${of} done (${int.format(s.match)} match, ${int.format(s.mismatch)} mismatch, ${int.format(s.skipped)} skipped, ${int.format(s.errors)} errors)${rate}`;
}

export function renderBar(s: ProgressSnapshot, seconds: number, columns: number): string {
  const fraction = s.total ? Math.min(1, s.done / s.total) : 0;
  const perSecond = seconds > 0 ? s.done / seconds : 0;
  const eta =
    s.total !== undefined && perSecond > 0 && s.done < s.total
      ? ` ETA ${formatSeconds((s.total - s.done) / perSecond)}`
      : '';
  const counts = `${int.format(s.done)}${s.total === undefined ? '' : `/${int.format(s.total)}`}`;
  const tail = ` ${Math.floor(fraction * 100)
    .toString()
    .padStart(
      3,
    )}% ${counts} ✓${int.format(s.match)} ✗${int.format(s.mismatch)} !${int.format(s.errors)} ${int.format(perSecond)}/s${eta}`;
  const width = Math.max(10, Math.min(40, columns - tail.length - 3));
  const filled = Math.round(fraction * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${tail}`.slice(0, Math.max(1, columns - 1));
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${Math.ceil(seconds % 60)}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
