import type { ReplayReport } from './json.js';

/** The terminal summary: totals, match rate and gate, latency, routes, differing fields, malformed lines. */

const MAX_ROUTES_SHOWN = 25;
const MAX_FIELDS_SHOWN = 25;
const MAX_LINES_SHOWN = 20;
const MAX_ROUTE_WIDTH = 48;

export function renderSummary(report: ReplayReport): string {
  const out: string[] = [];
  const t = report.totals;
  const target = report.mode === 'target' ? `target ${report.candidate} vs the recorded responses` : '';
  out.push(
    `canary-kit replay: ${target || `baseline ${report.baseline} vs candidate ${report.candidate}`}`,
    `  files              ${report.files.map(clean).join(', ')}`,
  );
  const notReplayed = Object.entries(report.totals.notReplayed);
  const notReplayedCount = notReplayed.reduce((n, [, c]) => n + c, 0);
  out.push(
    `  records            ${count(t.records)} read, ${count(t.malformed)} malformed ${t.malformed === 1 ? 'line' : 'lines'} skipped, ${count(notReplayedCount)} not replayed${
      notReplayed.length > 0 ? ` (${notReplayed.map(([why, n]) => `${why}: ${count(n)}`).join('; ')})` : ''
    }`,
    `  replayed           ${count(t.replayed)}: ${count(t.match)} match, ${count(t.mismatch)} mismatch, ${count(t.skipped)} skipped, ${count(t.errors)} errors`,
    `  match rate         ${percent(report.matchRate)}`,
    `  status mismatches  ${count(t.statusMismatches)}`,
  );
  const skipReasons = Object.entries(report.skipReasons);
  if (skipReasons.length > 0)
    out.push(`  not compared       ${skipReasons.map(([why, n]) => `${why}: ${count(n)}`).join(', ')}`);

  const l = report.latency;
  const base = report.mode === 'target' ? 'recorded' : 'baseline';
  out.push(
    '',
    table(
      ['latency (ms)', 'p50', 'p95', 'p99', 'requests'],
      [
        [base, ms(l.baseline.p50), ms(l.baseline.p95), ms(l.baseline.p99), count(l.baseline.count)],
        [
          report.mode === 'target' ? 'target' : 'candidate',
          ms(l.candidate.p50),
          ms(l.candidate.p95),
          ms(l.candidate.p99),
          count(l.candidate.count),
        ],
        ['ratio', times(l.ratio.p50), times(l.ratio.p95), times(l.ratio.p99), ''],
      ],
    ),
  );

  if (report.routes.length > 0) {
    const rows = report.routes
      .slice(0, MAX_ROUTES_SHOWN)
      .map((r) => [
        shorten(clean(r.route), MAX_ROUTE_WIDTH),
        count(r.requests),
        percent(r.matchRate, false),
        count(r.mismatch),
        count(r.statusMismatches),
        count(r.errors),
        ms(r.baseline.p95),
        ms(r.candidate.p95),
      ]);
    out.push(
      '',
      table(['route', 'requests', 'match', 'mismatch', 'status', 'errors', 'p95 base', 'p95 cand'], rows),
    );
    if (report.routes.length > MAX_ROUTES_SHOWN)
      out.push(`  … ${report.routes.length - MAX_ROUTES_SHOWN} more routes in the JSON and HTML reports`);
  }

  if (report.fields.length > 0) {
    const rows = report.fields
      .slice(0, MAX_FIELDS_SHOWN)
      .map((f) => [
        shorten(clean(f.field), MAX_ROUTE_WIDTH),
        count(f.count),
        percent(f.rate, false),
        shorten(clean(Object.keys(f.routes).join(', ')), 60),
      ]);
    out.push('', table(['differing field', 'requests', 'rate', 'routes'], rows, [3]));
    if (report.fields.length > MAX_FIELDS_SHOWN)
      out.push(`  … ${report.fields.length - MAX_FIELDS_SHOWN} more fields in the JSON and HTML reports`);
  }

  if (report.malformed.count > 0) {
    out.push('', `malformed lines skipped (${count(report.malformed.count)}):`);
    for (const m of report.malformed.lines.slice(0, MAX_LINES_SHOWN))
      out.push(`  ${clean(m.file)}:${m.line}: ${shorten(clean(m.error), 160)}`);
    if (report.malformed.count > MAX_LINES_SHOWN)
      out.push(`  … ${report.malformed.count - MAX_LINES_SHOWN} more in the JSON report`);
  }

  if (report.errors.samples.length > 0) {
    out.push('', `requests without an answer (${count(t.errors)}):`);
    for (const e of report.errors.samples.slice(0, 5))
      out.push(
        `  ${e.side} ${clean(e.method)} ${shorten(clean(e.url), 80)}: ${shorten(clean(e.message), 120)}`,
      );
  }

  out.push('', gateLine(report));
  return `${out.join('\n')}\n`;
}

export function gateLine(report: ReplayReport): string {
  const rate = percent(report.matchRate);
  const limit = `--fail-under ${report.gate.failUnder} %`;
  if (report.interrupted)
    return `FAIL: interrupted before the end of the recording (match rate so far ${rate})`;
  if (report.matchRate === null) return `FAIL: nothing was compared (${limit})`;
  return report.gate.passed ? `PASS: match rate ${rate} ≥ ${limit}` : `FAIL: match rate ${rate} < ${limit}`;
}

/** Columns right-aligned (numbers) except the first and those listed in `left`. */
function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  left: readonly number[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells
      .map((c, i) => (i === 0 || left.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)].join('\n');
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function count(n: number): string {
  return integer.format(n);
}

/** Two decimals, never rounded up to 100 (99.996 % shows as 99.99 %, not a perfect score). */
export function percent(value: number | null, unit = true): string {
  if (value === null) return 'n/a';
  const shown = value < 100 ? Math.min(Math.round(value * 100) / 100, 99.99) : 100;
  return `${shown.toFixed(2)}${unit ? ' %' : ''}`;
}

export function ms(value: number | null): string {
  if (value === null) return '–';
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function times(value: number | null): string {
  return value === null ? '–' : `${value.toFixed(2)}×`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Recorded text goes to a terminal: control characters (escape sequences) are shown, not obeyed. */
export function clean(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
