// Number formats shared by the live view, the summary and the report.

export const pct = (rate, digits = 1) =>
  rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(digits)} %`;

export function ms(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const v = seconds * 1000;
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}

export const count = (n) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Seconds since the start as `12.3 s`. */
export const at = (msSinceStart) => `${(msSinceStart / 1000).toFixed(1)} s`;

export function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}
