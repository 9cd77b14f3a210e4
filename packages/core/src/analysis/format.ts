/** Number formats of the human-readable verdict reasons: stable across locales, short, unambiguous units. */

/** 12345 → `12,345` (no Intl: the reason must read the same on every machine). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A threshold as written: 0.03 → `3`, 1.5 → `1.5` (no float noise such as 3.0000000000000004). */
function plain(x: number): string {
  return String(Number(x.toPrecision(10)));
}

/** Two decimals below 1 (where the interesting digits are), one from there; decided on the rounded value. */
const decimals = (x: number) => (Math.abs(x) < 0.995 ? 2 : 1);

/** A rate as a percentage: `21.0 %`, `0.45 %`. */
export function formatRate(rate: number): string {
  const pct = rate * 100;
  return `${pct.toFixed(decimals(pct))} %`;
}

/** A threshold rate: 0.05 → `5 %`. */
export function formatRateThreshold(rate: number): string {
  return `${plain(rate * 100)} %`;
}

/** A difference of rates in percentage points, signed: `+20.6 pp`, `-0.10 pp`. */
export function formatPoints(diff: number): string {
  const pp = diff * 100;
  return `${pp >= 0 ? '+' : ''}${pp.toFixed(decimals(pp))} pp`;
}

/** A threshold difference: 0.03 → `3 pp`. */
export function formatPointsThreshold(diff: number): string {
  return `${plain(diff * 100)} pp`;
}

/** Seconds as `182 ms`, `4.2 ms` or `2.31 s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  const ms = seconds * 1000;
  return ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toPrecision(2)} ms`;
}

/** A threshold in seconds: 2 → `2 s`, 0.5 → `500 ms`. */
export function formatSecondsThreshold(seconds: number): string {
  return seconds >= 1 ? `${plain(seconds)} s` : `${plain(seconds * 1000)} ms`;
}

/** A ratio: `1.72×`; a threshold ratio `1.5×`. */
export function formatRatio(ratio: number, threshold = false): string {
  if (!Number.isFinite(ratio)) return '∞×';
  return `${threshold ? plain(ratio) : ratio.toFixed(2)}×`;
}

/**
 * A p-value as reasons print it: `p = 0.14`, `p = 0.0031`, `p = 2.4e-9`; below 1e-15 `p < 1e-15`, since that
 * far out the normal approximation's digits mean nothing (the number itself stays in the result).
 */
export function formatP(p: number): string {
  if (p < 1e-15) return 'p < 1e-15';
  if (p < 0.001) return `p = ${p.toExponential(1).replace('.0e', 'e')}`;
  return `p = ${Number(p.toPrecision(2))}`;
}
