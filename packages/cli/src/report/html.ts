import type { ReplayReport } from './json.js';
import { gateLine, ms, percent } from './text.js';

/**
 * The HTML report: one self-contained file — inline CSS, inline SVG charts, no script, no external request
 * (a Content-Security-Policy forbids any). Every value that came from the recording or a server (URLs,
 * routes, field paths, values, error messages) is escaped; nothing recorded is ever markup.
 *
 * Sections: summary, outcomes, latency distribution of both sides, per-route table, the fields that differ
 * most often, sample diffs, requests without an answer, malformed lines, the options used.
 */

const BASELINE_COLOR = '#2563eb';
const CANDIDATE_COLOR = '#ea580c';
const MAX_ROUTE_ROWS = 500;
const MAX_FIELD_BARS = 15;
const MAX_FIELD_ROWS = 200;

export function renderHtml(report: ReplayReport): string {
  const t = report.totals;
  const target = report.mode === 'target';
  const baseName = target ? 'recorded' : 'baseline';
  const candName = target ? 'target' : 'candidate';
  const title = `canary-kit replay — ${report.gate.passed ? 'PASS' : 'FAIL'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>canary-kit replay <span class="gate ${report.gate.passed ? 'pass' : 'fail'}" data-testid="gate">${report.gate.passed ? 'PASS' : 'FAIL'}</span></h1>
<p class="targets">${
    target
      ? `target <code>${esc(report.candidate)}</code> against the responses stored in the recording`
      : `baseline <code>${esc(report.baseline)}</code> vs candidate <code>${esc(report.candidate)}</code>`
  }</p>
<p class="muted">${esc(report.startedAt)} · ${esc(formatDuration(report.durationMs))} · ${report.files.map((f) => `<code>${esc(f)}</code>`).join(', ')}</p>
<p data-testid="gate-line">${esc(gateLine(report))}</p>
</header>

<section id="summary">
<h2>Summary</h2>
<div class="cards">
${card('match-rate', 'match rate', percent(report.matchRate), report.gate.passed ? 'good' : 'bad')}
${card('replayed', 'requests replayed', integer(t.replayed))}
${card('match', 'match', integer(t.match), 'good')}
${card('mismatch', 'mismatch', integer(t.mismatch), t.mismatch > 0 ? 'bad' : '')}
${card('status-mismatches', 'status mismatches', integer(t.statusMismatches), t.statusMismatches > 0 ? 'bad' : '')}
${card('skipped', 'not compared', integer(t.skipped))}
${card('errors', 'no answer', integer(t.errors), t.errors > 0 ? 'bad' : '')}
${card('records', 'records read', integer(t.records))}
${card('malformed', 'malformed lines', integer(t.malformed), t.malformed > 0 ? 'warn' : '')}
${card('not-replayed', 'not replayed', integer(Object.values(t.notReplayed).reduce((a, b) => a + b, 0)))}
</div>
${notReplayedList(report)}
<h3>Outcomes</h3>
${outcomeChart(report)}
</section>

<section id="latency">
<h2>Latency</h2>
<table class="numbers" data-testid="latency-table">
<thead><tr><th></th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>mean ms</th><th>max ms</th><th>requests</th></tr></thead>
<tbody>
${latencyRow(baseName, report.latency.baseline, BASELINE_COLOR)}
${latencyRow(candName, report.latency.candidate, CANDIDATE_COLOR)}
<tr><th>ratio ${esc(candName)} / ${esc(baseName)}</th><td>${ratio(report.latency.ratio.p50)}</td><td>${ratio(report.latency.ratio.p95)}</td><td>${ratio(report.latency.ratio.p99)}</td><td></td><td></td><td></td></tr>
</tbody>
</table>
<h3>Distribution</h3>
${latencyChart(report, baseName, candName)}
</section>

<section id="routes">
<h2>Routes</h2>
${routeTable(report)}
</section>

<section id="fields">
<h2>Most often differing fields</h2>
${fieldChart(report)}
${fieldTable(report)}
</section>

<section id="samples">
<h2>Sample diffs</h2>
${samples(report, baseName, candName)}
</section>

${errorSection(report)}
${malformedSection(report)}

<section id="options">
<h2>Options</h2>
<pre>${esc(JSON.stringify(report.options, null, 2))}</pre>
</section>
</body>
</html>
`;
}

// ── sections ────────────────────────────────────────────────────────────────────────────────────────

function card(id: string, label: string, value: string, tone = ''): string {
  return `<div class="card ${tone}" data-metric="${esc(id)}"><div class="value">${esc(value)}</div><div class="label">${esc(label)}</div></div>`;
}

function notReplayedList(report: ReplayReport): string {
  const entries = Object.entries(report.totals.notReplayed);
  if (entries.length === 0) return '';
  return `<p class="muted">Not replayed: ${entries.map(([why, n]) => `${esc(why)} (${integer(n)})`).join(', ')}</p>`;
}

function latencyRow(name: string, s: ReplayReport['latency']['baseline'], color: string): string {
  return `<tr><th><span class="swatch" style="background:${color}"></span>${esc(name)}</th><td>${ms(s.p50)}</td><td>${ms(s.p95)}</td><td>${ms(s.p99)}</td><td>${ms(s.mean)}</td><td>${ms(s.max)}</td><td>${integer(s.count)}</td></tr>`;
}

function routeTable(report: ReplayReport): string {
  if (report.routes.length === 0) return '<p class="muted">No requests were replayed.</p>';
  const rows = report.routes
    .slice(0, MAX_ROUTE_ROWS)
    .map(
      (r) =>
        `<tr data-route="${esc(r.route)}"><td class="route"><code>${esc(r.route)}</code></td><td>${integer(r.requests)}</td><td>${esc(percent(r.matchRate))}</td><td>${integer(r.match)}</td><td class="${r.mismatch > 0 ? 'bad' : ''}">${integer(r.mismatch)}</td><td class="${r.statusMismatches > 0 ? 'bad' : ''}">${integer(r.statusMismatches)}</td><td>${integer(r.skipped)}</td><td class="${r.errors > 0 ? 'bad' : ''}">${integer(r.errors)}</td><td>${ms(r.baseline.p50)}</td><td>${ms(r.candidate.p50)}</td><td>${ms(r.baseline.p95)}</td><td>${ms(r.candidate.p95)}</td><td>${ms(r.baseline.p99)}</td><td>${ms(r.candidate.p99)}</td></tr>`,
    );
  const more =
    report.routes.length > MAX_ROUTE_ROWS
      ? `<p class="muted">${integer(report.routes.length - MAX_ROUTE_ROWS)} more routes in the JSON report.</p>`
      : '';
  return `<table class="numbers" data-testid="routes-table">
<thead><tr><th>route</th><th>requests</th><th>match rate</th><th>match</th><th>mismatch</th><th>status mismatches</th><th>not compared</th><th>no answer</th><th>p50 base</th><th>p50 cand</th><th>p95 base</th><th>p95 cand</th><th>p99 base</th><th>p99 cand</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>${more}`;
}

function fieldTable(report: ReplayReport): string {
  if (report.fields.length === 0) return '<p class="muted">No field differed.</p>';
  const rows = report.fields.slice(0, MAX_FIELD_ROWS).map(
    (f) =>
      `<tr data-field="${esc(f.field)}"><td><code>${esc(f.field)}</code></td><td>${integer(f.count)}</td><td>${esc(percent(f.rate))}</td><td>${Object.entries(
        f.routes,
      )
        .slice(0, 10)
        .map(([route, n]) => `<code>${esc(route)}</code> (${integer(n)})`)
        .join(', ')}</td></tr>`,
  );
  return `<table class="numbers" data-testid="fields-table">
<thead><tr><th>field</th><th>requests</th><th>of compared</th><th>routes</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function samples(report: ReplayReport, baseName: string, candName: string): string {
  if (report.samples.length === 0) return '<p class="muted">No differences to show.</p>';
  return report.samples
    .map((s) => {
      const rows = s.differences.map(
        (d) =>
          `<tr><td><code>${esc(d.path)}</code></td><td>${esc(d.kind)}</td><td><code>${esc(value(d.primary))}</code></td><td><code>${esc(value(d.candidate))}</code></td><td>${esc(d.detail ?? '')}</td></tr>`,
      );
      return `<details class="sample" open>
<summary><code>${esc(s.method)} ${esc(s.url)}</code> <span class="muted">${esc(s.file)}:${s.line} · ${esc(baseName)} ${s.baselineStatus} → ${esc(candName)} ${s.candidateStatus}</span></summary>
<table>
<thead><tr><th>path</th><th>kind</th><th>${esc(baseName)}</th><th>${esc(candName)}</th><th>detail</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>${s.truncated ? '<p class="muted">More differences were not shown.</p>' : ''}
</details>`;
    })
    .join('\n');
}

function errorSection(report: ReplayReport): string {
  if (report.totals.errors === 0) return '';
  const kinds = (side: 'baseline' | 'candidate') =>
    Object.entries(report.errors[side])
      .map(([kind, n]) => `${esc(kind)}: ${integer(n)}`)
      .join(', ') || 'none';
  const rows = report.errors.samples.map(
    (e) =>
      `<tr><td>${esc(e.side)}</td><td><code>${esc(e.method)} ${esc(e.url)}</code></td><td>${esc(e.kind)}</td><td>${esc(e.message)}</td><td>${esc(e.file)}:${e.line}</td></tr>`,
  );
  return `<section id="errors">
<h2>Requests without an answer (${integer(report.totals.errors)})</h2>
<p>baseline: ${kinds('baseline')} · candidate: ${kinds('candidate')}</p>
<table><thead><tr><th>side</th><th>request</th><th>kind</th><th>message</th><th>line</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
</section>`;
}

function malformedSection(report: ReplayReport): string {
  if (report.malformed.count === 0) return '';
  const rows = report.malformed.lines.map(
    (m) => `<tr><td><code>${esc(m.file)}:${m.line}</code></td><td>${esc(m.error)}</td></tr>`,
  );
  const more =
    report.malformed.count > report.malformed.lines.length
      ? `<p class="muted">${integer(report.malformed.count - report.malformed.lines.length)} more not listed.</p>`
      : '';
  return `<section id="malformed">
<h2>Malformed lines skipped (${integer(report.malformed.count)})</h2>
<table data-testid="malformed-table"><thead><tr><th>line</th><th>problem</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>${more}
</section>`;
}

// ── charts (inline SVG, bars are <rect class="bar">) ───────────────────────────────────────────────

function outcomeChart(report: ReplayReport): string {
  const t = report.totals;
  const parts = [
    { label: 'match', n: t.match, color: '#16a34a' },
    { label: 'mismatch', n: t.mismatch, color: '#dc2626' },
    { label: 'not compared', n: t.skipped, color: '#a3a3a3' },
    { label: 'no answer', n: t.errors, color: '#7c3aed' },
  ].filter((p) => p.n > 0);
  const total = parts.reduce((a, p) => a + p.n, 0);
  if (total === 0) return '<p class="muted">No requests were replayed.</p>';
  const width = 720;
  let x = 0;
  const bars = parts.map((p) => {
    const w = Math.max(1, (p.n / total) * width);
    const bar = `<rect class="bar" x="${fixed(x)}" y="0" width="${fixed(w)}" height="28" fill="${p.color}"><title>${esc(p.label)}: ${integer(p.n)}</title></rect>`;
    x += w;
    return bar;
  });
  const legend = parts
    .map(
      (p, i) =>
        `<rect x="${i * 170}" y="40" width="12" height="12" fill="${p.color}"/><text x="${i * 170 + 18}" y="51">${esc(p.label)} ${integer(p.n)} (${esc(percent((p.n * 100) / total))})</text>`,
    )
    .join('');
  return `<svg class="chart" data-chart="outcomes" role="img" aria-label="request outcomes" viewBox="0 0 ${width} 60" width="${width}" height="60">${bars.join('')}${legend}</svg>`;
}

function latencyChart(report: ReplayReport, baseName: string, candName: string): string {
  const h = report.latency.histogram;
  const bins = h.baseline.length;
  const peak = Math.max(0, ...h.baseline, ...h.candidate);
  if (bins === 0 || peak === 0) return '<p class="muted">No latencies were measured.</p>';
  const width = 760;
  const height = 260;
  const left = 48;
  const bottom = 40;
  const top = 28;
  const plotW = width - left - 10;
  const plotH = height - bottom - top;
  const slot = plotW / bins;
  const barW = Math.max(1, slot / 2 - 1);
  const bars: string[] = [];
  for (let i = 0; i < bins; i++) {
    const range = `${ms(h.edgesMs[i]!)}–${ms(h.edgesMs[i + 1]!)} ms`;
    for (const [side, counts, color, offset, name] of [
      ['baseline', h.baseline, BASELINE_COLOR, 0, baseName],
      ['candidate', h.candidate, CANDIDATE_COLOR, barW, candName],
    ] as const) {
      const n = counts[i]!;
      if (n === 0) continue;
      const barH = Math.max(1, (n / peak) * plotH);
      bars.push(
        `<rect class="bar ${side}" x="${fixed(left + i * slot + offset)}" y="${fixed(top + plotH - barH)}" width="${fixed(barW)}" height="${fixed(barH)}" fill="${color}"><title>${esc(name)} ${range}: ${integer(n)}</title></rect>`,
      );
    }
  }
  const ticks: string[] = [];
  for (const i of [0, Math.floor(bins / 4), Math.floor(bins / 2), Math.floor((3 * bins) / 4), bins]) {
    const x = left + i * slot;
    ticks.push(
      `<line x1="${fixed(x)}" y1="${top + plotH}" x2="${fixed(x)}" y2="${top + plotH + 5}" stroke="#666"/><text x="${fixed(x)}" y="${top + plotH + 18}" text-anchor="middle">${ms(h.edgesMs[i]!)}</text>`,
    );
  }
  const axes = `<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#666"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#666"/><text x="${left - 6}" y="${top + 4}" text-anchor="end">${integer(peak)}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text><text x="${left + plotW / 2}" y="${height - 4}" text-anchor="middle">latency, ms (log scale)</text>`;
  const legend = `<rect x="${left}" y="4" width="12" height="12" fill="${BASELINE_COLOR}"/><text x="${left + 18}" y="15">${esc(baseName)}</text><rect x="${left + 130}" y="4" width="12" height="12" fill="${CANDIDATE_COLOR}"/><text x="${left + 148}" y="15">${esc(candName)}</text>`;
  return `<svg class="chart" data-chart="latency" role="img" aria-label="latency distribution" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${legend}${axes}${ticks.join('')}${bars.join('')}</svg>`;
}

function fieldChart(report: ReplayReport): string {
  const fields = report.fields.slice(0, MAX_FIELD_BARS);
  if (fields.length === 0) return '';
  const peak = Math.max(...fields.map((f) => f.count));
  const label = 260;
  const width = 760;
  const row = 24;
  const height = fields.length * row + 8;
  const bars = fields.map((f, i) => {
    const w = Math.max(1, (f.count / peak) * (width - label - 90));
    const y = 4 + i * row;
    return `<text x="${label - 8}" y="${y + 15}" text-anchor="end">${esc(shorten(f.field, 40))}</text><rect class="bar" x="${label}" y="${y}" width="${fixed(w)}" height="${row - 6}" fill="#dc2626"><title>${esc(f.field)}: ${integer(f.count)}</title></rect><text x="${fixed(label + w + 6)}" y="${y + 15}">${integer(f.count)}</text>`;
  });
  return `<svg class="chart" data-chart="fields" role="img" aria-label="most often differing fields" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars.join('')}</svg>`;
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────────

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function value(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function integer(n: number): string {
  return integerFormat.format(n);
}

function ratio(value: number | null): string {
  return value === null ? '–' : `${value.toFixed(2)}×`;
}

function fixed(n: number): string {
  return n.toFixed(1);
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const CSS = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 8px; }
h2 { font-size: 1.2rem; margin: 32px 0 12px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
h3 { font-size: 1rem; margin: 20px 0 8px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9em; word-break: break-all; }
.muted { color: #6b7280; }
.gate { font-size: 0.9rem; padding: 2px 10px; border-radius: 12px; color: #fff; vertical-align: middle; }
.gate.pass { background: #16a34a; } .gate.fail { background: #dc2626; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; min-width: 120px; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card .label { color: #6b7280; font-size: 0.85rem; }
.card.good .value { color: #15803d; } .card.bad .value { color: #b91c1c; } .card.warn .value { color: #b45309; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
table.numbers td { text-align: right; } table.numbers td.route, table.numbers td:first-child { text-align: left; }
td.bad { color: #b91c1c; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg.chart text { fill: #374151; }
details.sample { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
details.sample summary { cursor: pointer; }
pre { background: #f9fafb; padding: 12px; border-radius: 8px; overflow: auto; }
`;
