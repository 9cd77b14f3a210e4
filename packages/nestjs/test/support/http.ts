/** Small HTTP helpers for the Nest suites: real requests over 127.0.0.1, Prometheus text parsing. */

export { parseExposition as parseMetrics, sampleValue } from '../../../../test/helpers/exposition.js';

/** `name=value` of a cookie among `Set-Cookie` headers. */
export function cookieFrom(setCookies: readonly string[], name: string): string | undefined {
  for (const header of setCookies) {
    const pair = header.split(';')[0]!;
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

export async function getJson<T = any>(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; setCookies: string[] }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body, setCookies: response.headers.getSetCookie() };
}
