/**
 * One instant query over the Prometheus HTTP API (`GET /api/v1/query`), reduced to one number. Everything that
 * can go wrong on the way — refused connection, reset, timeout, an HTTP error, a `status: "error"` body, a body
 * that is not JSON, an answer that is not one number — becomes an Error saying which, and for which query.
 */

export interface InstantQuery {
  /** The API base, no trailing slash: `http://prometheus:9090` or `https://host/prometheus`. */
  readonly base: string;
  readonly query: string;
  /** Evaluation time, ms since the epoch: every query of one snapshot is evaluated at the same instant. */
  readonly timeMs: number;
  /** Aborts the request and the body read (the snapshot's deadline). */
  readonly signal: AbortSignal;
  /** Also sent to Prometheus as `timeout`, so it stops evaluating when we stop waiting. */
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  /** A bigger body is abandoned: an instant query for one number is a few hundred bytes. */
  readonly maxBodyBytes: number;
}

/** The query's value; `undefined` for an empty vector (no series matched). NaN and ±Inf come through as such. */
export async function queryNumber(q: InstantQuery): Promise<number | undefined> {
  const params = new URLSearchParams({
    query: q.query,
    time: (q.timeMs / 1000).toFixed(3),
    timeout: `${Math.max(1, Math.ceil(q.timeoutMs))}ms`,
  });
  const where = `Prometheus at ${q.base}`;
  let res: Response;
  let text: string;
  try {
    res = await q.fetch(`${q.base}/api/v1/query?${params}`, {
      headers: { accept: 'application/json', ...q.headers },
      signal: q.signal,
    });
    text = await readBody(res, q.maxBodyBytes, where);
  } catch (error) {
    throw transportError(error, q, where);
  }
  let body: PromResponse;
  try {
    body = JSON.parse(text) as PromResponse;
  } catch {
    throw new Error(
      `${where} answered HTTP ${res.status} with a body that is not JSON (${preview(text)}) for query ${q.query}`,
    );
  }
  if (body === null || typeof body !== 'object' || typeof body.status !== 'string') {
    throw new Error(`${where} answered without a status field (${preview(text)}) for query ${q.query}`);
  }
  if (body.status !== 'success' || !res.ok) {
    const detail = body.error ? `${body.errorType ?? 'error'}: ${body.error}` : `status ${body.status}`;
    throw new Error(`${where} answered HTTP ${res.status} (${detail}) for query ${q.query}`);
  }
  return numberOf(body.data, q.query, where);
}

interface PromResponse {
  status?: unknown;
  errorType?: string;
  error?: string;
  data?: { resultType?: unknown; result?: unknown };
}

function numberOf(data: PromResponse['data'], query: string, where: string): number | undefined {
  const type = data?.resultType;
  const result = data?.result;
  if (type === 'scalar' && Array.isArray(result)) return sampleValue(result, query, where);
  if (type === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return undefined;
    if (result.length > 1) {
      throw new Error(
        `${where} returned ${result.length} series for query ${query}; a template must return one number (aggregate it, e.g. with sum())`,
      );
    }
    const series: unknown = result[0];
    const pair =
      series !== null && typeof series === 'object' ? (series as { value?: unknown }).value : undefined;
    return sampleValue(pair, query, where);
  }
  throw new Error(
    `${where} returned a ${String(type)} result for query ${query}; a template must return an instant vector or a scalar`,
  );
}

function sampleValue(pair: unknown, query: string, where: string): number {
  // [ <unix seconds>, "<value>" ]; values are strings, including "NaN", "+Inf" and "-Inf".
  const raw = Array.isArray(pair) ? pair[1] : undefined;
  if (typeof raw !== 'string') throw new Error(`${where} returned a malformed sample for query ${query}`);
  if (raw === '+Inf' || raw === 'Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  if (raw === 'NaN') return Number.NaN;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (Number.isNaN(value)) {
    throw new Error(
      `${where} returned a sample that is not a number (${JSON.stringify(raw)}) for query ${query}`,
    );
  }
  return value;
}

/** The body as text, abandoned past `maxBytes` (a misconfigured URL can point at anything). */
async function readBody(res: Response, maxBytes: number, where: string): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`${where} answered with a body over ${maxBytes} bytes; is the url a Prometheus API?`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function transportError(error: unknown, q: InstantQuery, where: string): Error {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (q.signal.aborted) {
    const reason = q.signal.reason as Error | undefined;
    if (reason?.name === 'TimeoutError') {
      return new Error(`${where} did not answer within ${q.timeoutMs} ms (query ${q.query})`, {
        cause: error,
      });
    }
    return new Error(`${where}: query abandoned (${reason?.message ?? 'aborted'}): ${q.query}`, {
      cause: error,
    });
  }
  if (e instanceof Error && e.message.startsWith(where)) return e;
  const code = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
  return new Error(`${where} unreachable (${code}) for query ${q.query}`, { cause: error });
}

function preview(text: string): string {
  const t = text.trim();
  return t === '' ? 'empty' : JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}…` : t);
}
