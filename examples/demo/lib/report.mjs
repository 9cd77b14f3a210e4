// The HTML report: one self-contained file (no script, no CDN, no font): the charts are SVG drawn here, so
// the file opens the same anywhere, offline, years later.

import { at, count, escapeHtml as h, ms, pct } from './format.mjs';
import { FLAG, SHADOW_TARGET } from './shop.mjs';
import { matchRate } from './state.mjs';

const W = 760;
const H = 230;
const M = { left: 58, right: 18, top: 30, bottom: 30 };
const COLORS = { v1: '#2563eb', v2: '#dc2626', catalog: '#7c3aed', percentage: '#ea580c', match: '#059669' };

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

/** An SVG line chart. `series[i].points` are [seconds, value|null]; null breaks the line. */
export function lineChart({
  id,
  title,
  unit,
  series,
  markers = [],
  tMax,
  yMax,
  robust = false,
  format = (v) => String(v),
}) {
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  // `robust`: the scale fits the 90th percentile of the points (×1.5), so one start-up spike (a cold JIT,
  // a busy laptop) does not flatten the rest; the spike is drawn clipped at the top.
  const basis =
    robust && values.length > 10
      ? [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)] * 1.5
      : Math.max(0, ...values) * 1.1;
  const top = yMax ?? niceMax(basis);
  const x = (t) => M.left + (Math.max(0, t) / tMax) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (Math.min(v, top) / top) * (H - M.top - M.bottom);
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    parts.push(
      `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`,
      `<text class="tick" x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${h(format(v))}</text>`,
    );
  }
  const step = tMax > 120 ? 30 : tMax > 50 ? 10 : 5;
  for (let t = 0; t <= tMax; t += step) {
    parts.push(
      `<text class="tick" x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${t} s</text>`,
    );
  }
  for (const m of markers) {
    const mx = x(m.t).toFixed(1);
    parts.push(
      `<line class="marker ${m.kind}" x1="${mx}" x2="${mx}" y1="${M.top}" y2="${H - M.bottom}"><title>${h(m.title ?? m.label)}</title></line>`,
      `<text class="marker-label ${m.kind}" x="${(x(m.t) + 3).toFixed(1)}" y="${M.top + 10}">${h(m.label)}</text>`,
    );
  }
  const legend = [];
  series.forEach((s, i) => {
    let d = '';
    let pen = false;
    let prev = null;
    for (const [t, v] of s.points) {
      if (v === null || v === undefined || !Number.isFinite(v)) {
        pen = false;
        continue;
      }
      if (s.stepped && pen && prev !== null) d += `L${x(t).toFixed(1)},${y(prev).toFixed(1)}`;
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
      prev = v;
    }
    parts.push(`<path class="series" data-series="${h(s.name)}" stroke="${s.color}" d="${d}"/>`);
    legend.push(
      `<rect x="${W - M.right - 150 * (series.length - i)}" y="8" width="12" height="4" fill="${s.color}"/>` +
        `<text class="legend" x="${W - M.right - 150 * (series.length - i) + 16}" y="14">${h(s.name)}</text>`,
    );
  });
  return `<figure>
<figcaption>${h(title)}${unit ? ` <span class="unit">(${h(unit)})</span>` : ''}</figcaption>
<svg class="chart" data-chart="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(title)}">
<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>
<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>
${parts.join('\n')}
${legend.join('\n')}
</svg>
</figure>`;
}

/** Match rate per second from the cumulative shadow counters sampled at each refresh. */
function shadowPerSecond(samples) {
  const last = new Map();
  for (const s of samples) last.set(Math.floor(s.at / 1000), s.shadow);
  const points = [];
  const cumulative = [];
  let prev = { match: 0, mismatch: 0 };
  for (const [second, shadow] of [...last].sort((a, b) => a[0] - b[0])) {
    const match = shadow.match - prev.match;
    const compared = match + (shadow.mismatch - prev.mismatch);
    points.push([second + 1, compared > 0 ? (match / compared) * 100 : null]);
    const rate = matchRate(shadow);
    cumulative.push([second + 1, rate === null ? null : rate * 100]);
    prev = shadow;
  }
  return { points, cumulative };
}

export function renderReport({ state, timeline, plan, options, totals, endedAt, mode }) {
  const perSecond = timeline.perSecond();
  const tMax = Math.max(10, Math.ceil(endedAt / 1000));
  const markers = timeline.events
    .filter((e) => e.type === 'step' || e.type === 'rollback' || e.type === 'complete')
    .map((e) => ({
      t: e.at / 1000,
      kind: e.type,
      label: e.type === 'rollback' ? 'rollback' : e.type === 'complete' ? '100 %' : `${e.percentage} %`,
      title: e.text,
    }));
  const at1 = (p) => p.t + 1;
  const series = (version, key, scale = 1) => ({
    name: version === 'v1' ? 'v1 (stable)' : version === 'v2' ? 'v2 (canary)' : 'product views',
    color: COLORS[version],
    points: perSecond.map((p) => {
      const v = p[version][key];
      return [at1(p), v === null ? null : v * scale];
    }),
  });
  const percentagePoints = [[0, 0], ...timeline.samples.map((s) => [s.at / 1000, s.percentage])];
  const shadow = shadowPerSecond(timeline.samples);

  const charts = [
    lineChart({
      id: 'traffic',
      title: 'Traffic on v2 (the flag percentage), with step and rollback markers',
      unit: '%',
      series: [{ name: 'share on v2', color: COLORS.percentage, points: percentagePoints, stepped: true }],
      markers,
      tMax,
      yMax: 100,
      format: (v) => `${v} %`,
    }),
    lineChart({
      id: 'rate',
      title: 'Requests per second by version',
      unit: 'req/s',
      series: [series('v1', 'rps'), series('v2', 'rps'), series('catalog', 'rps')],
      markers,
      tMax,
      format: (v) => String(Math.round(v)),
    }),
    lineChart({
      id: 'errors',
      title: 'Checkout error rate (5xx) by version',
      unit: '%',
      series: [series('v1', 'errorRate', 100), series('v2', 'errorRate', 100)],
      markers,
      tMax,
      format: (v) => `${+v.toFixed(1)} %`,
    }),
    lineChart({
      id: 'p95',
      title: 'p95 latency by version, as the shoppers saw it (start-up spikes clipped)',
      unit: 'ms',
      series: [series('v1', 'p95', 1000), series('v2', 'p95', 1000), series('catalog', 'p95', 1000)],
      markers,
      tMax,
      robust: true,
      format: (v) => `${+v.toFixed(1)} ms`,
    }),
    lineChart({
      id: 'shadow',
      title: `Shadow match rate of ${SHADOW_TARGET} (per second and cumulative)`,
      unit: '%',
      series: [
        { name: 'per second', color: COLORS.match, points: shadow.points },
        { name: 'cumulative', color: '#0f766e', points: shadow.cumulative },
      ],
      markers: [],
      tMax,
      yMax: 100,
      format: (v) => `${v} %`,
    }),
  ];

  const rb = state.rollback;
  const verdict = rb
    ? `<p class="verdict bad">Rolled back at ${rb.percentage} %, ${at(rb.at)} into the run: ${h(rb.reason)}</p>`
    : state.complete
      ? '<p class="verdict bad">The rollout completed: the planted regression was NOT caught.</p>'
      : '<p class="verdict bad">The run ended without a rollback.</p>';
  const checks = rb?.analysis?.checks?.length
    ? `<table><thead><tr><th>check</th><th>status</th><th>observed</th><th>threshold</th><th>p-value</th></tr></thead><tbody>${rb.analysis.checks
        .map(
          (c) =>
            `<tr class="${c.status}"><td>${h(c.name)}</td><td>${h(c.status)}</td><td>${fmtNum(c.observed)}</td><td>${fmtNum(c.threshold)}</td><td>${c.pValue === null || c.pValue === undefined ? '—' : h(c.pValue.toExponential(2))}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '';
  const side = (name, s) =>
    s
      ? `<tr><td>${name}</td><td>${count(s.requests)}</td><td>${count(s.errors)}</td><td>${pct(s.errorRate, 2)}</td><td>${ms(s.p95)}</td></tr>`
      : '';
  const analysisTable = rb?.analysis
    ? `<table><thead><tr><th>the failing analysis</th><th>requests</th><th>errors</th><th>error rate</th><th>p95</th></tr></thead><tbody>${side('stable (v1)', rb.analysis.stable)}${side('canary (v2)', rb.analysis.canary)}</tbody></table>`
    : '';
  const mismatchRows = [...state.mismatchPaths]
    .map(
      ([path, info]) =>
        `<tr><td><code>${h(path)}</code></td><td>${count(info.count)}</td><td><code>${h(info.example.url)}</code></td><td><code>${h(JSON.stringify(info.example.primary))}</code></td><td><code>${h(JSON.stringify(info.example.candidate))}</code></td></tr>`,
    )
    .join('');
  const s = state.shadow;
  const events = timeline.events
    .map((e) => `<tr class="${e.type} ${e.verdict ?? ''}"><td>${at(e.at)}</td><td>${h(e.text)}</td></tr>`)
    .join('');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>canary-kit demo report — ${h(FLAG)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#6b7280}.verdict{font-weight:600;padding:10px 12px;border-radius:6px;background:#fef2f2;border:1px solid #fecaca}
.grid-cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;margin:14px 0}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px}.card b{display:block;font-size:18px}
figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}.unit{color:#6b7280;font-weight:400}
svg.chart{width:100%;height:auto;background:#fff;border:1px solid #e5e7eb;border-radius:6px}
.axis{stroke:#9ca3af}.grid{stroke:#f3f4f6}.tick,.legend,.marker-label{font-size:10px;fill:#6b7280}
.series{fill:none;stroke-width:2}.marker{stroke:#9ca3af;stroke-dasharray:3 3}.marker.rollback{stroke:#dc2626;stroke-width:2}
.marker-label.rollback{fill:#dc2626;font-weight:600}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
tr.fail td,tr.rollback td{color:#b91c1c}code{font-size:12px}
</style>
</head>
<body>
<h1>canary-kit demo report</h1>
<p class="muted">Flag <code>${h(FLAG)}</code> · ${h(mode)} · steps ${plan.steps.join(', ')} % · analysis every ${plan.intervalMs / 1000} s, ${plan.minRequests}+ requests per version, rollback after ${plan.failureLimit} failed analyses · regression planted in v2 from ${plan.regressionFrom} % · ${options.rate} req/s offered · ${h(new Date().toISOString())}</p>
${verdict}
<div class="grid-cards">
<div class="card">steps reached<b>${state.stepsReached.map((p) => `${p} %`).join(' → ') || '—'}</b></div>
<div class="card">requests<b>${count(totals.requests)}</b>in ${at(endedAt)}</div>
<div class="card">v2 checkouts<b>${count(timeline.totals.v2.requests)}</b>${count(timeline.totals.v2.errors)} errors</div>
<div class="card">shadow match<b>${pct(matchRate(s))}</b>${count(s.match)} of ${count(s.match + s.mismatch)} compared</div>
</div>
${charts.join('\n')}
<h2>Why it rolled back</h2>
${rb ? `<p>${h(rb.reason)}</p>${analysisTable}${checks}` : '<p>No rollback happened.</p>'}
<h2>Shadow mismatches (${SHADOW_TARGET})</h2>
<p>${count(s.match)} match, ${count(s.mismatch)} mismatch, ${count(s.error + s.timeout)} errors or timeouts, ${count(s.dropped + s.skipped)} dropped or skipped.</p>
${mismatchRows ? `<table><thead><tr><th>differing path</th><th>mismatches</th><th>example</th><th>v1</th><th>candidate</th></tr></thead><tbody>${mismatchRows}</tbody></table>` : '<p>No mismatches.</p>'}
<h2>Events</h2>
<table><tbody>${events}</tbody></table>
</body>
</html>
`;
}

function fmtNum(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 100 || v === 0 ? String(+v.toFixed(2)) : String(+v.toPrecision(3));
}
