// The live terminal view. On a TTY the block is redrawn in place every refresh (ANSI: cursor up, clear to
// the end); anywhere else (CI, tests, a pipe) a plain status line is printed every few seconds and each event
// once, as it happens — nothing that needs a terminal to read.

import { at, count, ms, pct } from './format.mjs';
import { FLAG, SHADOW_TARGET } from './shop.mjs';
import { matchRate } from './state.mjs';

const BAR = 30;
const BOLD = '\x1b[1m';
const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';
const EVENTS_SHOWN = 9;

function bar(percentage) {
  const full = Math.round((percentage / 100) * BAR);
  return `[${'█'.repeat(full)}${'░'.repeat(BAR - full)}]`;
}

function topPath(state) {
  let best = null;
  for (const [path, info] of state.mismatchPaths)
    if (!best || info.count > best[1].count) best = [path, info];
  return best;
}

function shadowLine(state) {
  const s = state.shadow;
  const compared = s.match + s.mismatch;
  const top = topPath(state);
  const where = top ? `, differing field ${top[0]}` : '';
  return `shadow ${SHADOW_TARGET}: match ${pct(matchRate(s))} (${count(s.match)} of ${count(compared)})${where}`;
}

function row(name, w) {
  if (!w) return `  ${name.padEnd(18)}      —`;
  return `  ${name.padEnd(18)}${w.rps.toFixed(0).padStart(6)}  ${pct(w.errorRate).padStart(8)}  ${ms(w.p95).padStart(9)}`;
}

export function createView({ stream, quiet, totalSteps, title, plainEveryMs = 3_000 }) {
  const tty = Boolean(stream.isTTY) && !quiet;
  let drawnLines = 0;
  let printedEvents = 0;
  let lastPlain = -Infinity;

  // Each line is [text, ansi-style]; the text is cut to the terminal's width before it is styled, so no line
  // wraps and the cursor-up count of the next redraw stays right.
  const lines = (state, timeline, nowMs, windowStats) => {
    const phase = state.phase === 'rolled-back' ? 'ROLLED BACK' : state.phase;
    const out = [
      [`canary-kit demo   t = ${at(nowMs).padStart(7)}   flag ${FLAG} · ${title}`, BOLD],
      [''],
      [
        `  step ${Math.min(state.stepIndex + 1, totalSteps)}/${totalSteps}  ${String(state.percentage).padStart(3)} % on v2  ${bar(state.percentage)}  ${phase}`,
        state.phase === 'rolled-back' ? RED : '',
      ],
      [''],
      [`  ${'checkout'.padEnd(18)}   req/s    errors        p95`],
      [row('v1 (stable)', windowStats.v1)],
      [row('v2 (canary)', windowStats.v2)],
      [row('product views', windowStats.catalog)],
      [''],
      [`  ${shadowLine(state)}`],
      [''],
      ['  events:'],
    ];
    for (const e of timeline.events.slice(-EVENTS_SHOWN)) {
      const style = e.type === 'rollback' ? RED : e.verdict === 'fail' ? YELLOW : '';
      out.push([`  ${at(e.at).padStart(7)}  ${e.text}`, style]);
    }
    const width = Math.max(40, (stream.columns ?? 120) - 1);
    return out.map(([text, style]) => {
      const cut = truncate(text, width);
      return style ? `${style}${cut}${RESET}` : cut;
    });
  };

  return {
    tty,
    render(state, timeline, nowMs) {
      if (quiet) return;
      const windowStats = timeline.window(nowMs, 2_000);
      if (tty) {
        const block = lines(state, timeline, nowMs, windowStats);
        const up = drawnLines > 0 ? `\x1b[${drawnLines}F` : '';
        stream.write(`${up}\x1b[J${block.join('\n')}\n`);
        drawnLines = block.length;
        return;
      }
      for (; printedEvents < timeline.events.length; printedEvents++) {
        const e = timeline.events[printedEvents];
        stream.write(`[${at(e.at).padStart(7)}] ${e.text}\n`);
      }
      if (nowMs - lastPlain >= plainEveryMs) {
        lastPlain = nowMs;
        const v = (w) => `${w.rps.toFixed(0)} req/s ${pct(w.errorRate)} err p95 ${ms(w.p95)}`;
        stream.write(
          `[${at(nowMs).padStart(7)}] ${state.percentage} % on v2 (${state.phase}) | v1 ${v(windowStats.v1)} | v2 ${v(windowStats.v2)} | shadow match ${pct(matchRate(state.shadow))}\n`,
        );
      }
    },
  };
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
