/**
 * Noise learning, after Twitter's Diffy. A `secondary` target runs the primary's version; a field that also
 * differs between primary and secondary is non-deterministic (timestamps, ids, ordering), so the candidate
 * differing there proves nothing. A field is reported only when the candidate differs there clearly more
 * often than the secondary does.
 *
 * The rule is Diffy's, as its code has it (twitter/diffy, src/main/scala/com/twitter/diffy/analysis/
 * JoinedDifferences.scala, `DifferencesFilterFactory` and `JoinedField`; the same in opendiffy/diffy):
 *
 *   raw > noise
 *   && |raw − noise| / (raw + noise)  > relative     (Diffy flag `threshold.relative`, default 20 %)
 *   && |raw − noise| / total          > absolute     (Diffy flag `threshold.absolute`, default 0.03 %)
 *
 * where raw and noise count requests whose candidate (resp. secondary) differed from the primary at the
 * field. The relative gap is measured against the *sum* of both counts, not against the noise alone: a
 * field differing on 10 % of candidate requests and 9 % of secondary ones has a gap of 1/19 ≈ 5 %, noise.
 * (Against noise alone, as often paraphrased, it would be 11 % — also noise, but the thresholds are not
 * interchangeable: the sum form needs the candidate rate above 1.5× the noise rate for 20 %.) Here counts
 * become rates, each over its own denominator, so requests whose secondary answer was missing still count
 * for the candidate; with a secondary on every request the two are the same rule.
 */

export interface NoiseFilterOptions {
  /** Minimum relative gap, as a fraction (0.2 = Diffy's 20 %). */
  readonly relativeThreshold?: number;
  /** Minimum absolute gap in difference rate, as a fraction of requests (0.0003 = Diffy's 0.03 %). */
  readonly absoluteThreshold?: number;
  /** Distinct fields tracked (default 10,000); past this, new fields are not learned (see `droppedFields`). */
  readonly maxFields?: number;
}

/** One field's record. */
export interface FieldNoise {
  /** The normalized path: array indices as `[*]`, keyed elements kept (`$.items[id=42].price`). */
  readonly field: string;
  /** Requests whose candidate differed from the primary here, and that over all requests observed. */
  readonly candidateCount: number;
  readonly candidateRate: number;
  /** Requests whose secondary differed from the primary here, and that over requests with a secondary. */
  readonly noiseCount: number;
  readonly noiseRate: number;
  /** Whether differences here are reported (true) or filtered as noise. */
  readonly signal: boolean;
}

export interface NoiseReport {
  readonly requests: number;
  readonly requestsWithSecondary: number;
  /**
   * Differences at fields that were not tracked because `maxFields` was reached, counted per occurrence
   * (remembering which fields were dropped would itself be unbounded). Such fields are always reported.
   */
  readonly droppedFields: number;
  /** Signals first, then by candidate rate, highest first. */
  readonly fields: FieldNoise[];
}

/** Anything with a path: a Difference, or `{ path }`. */
export interface HasPath {
  readonly path: string;
}

export const DEFAULT_RELATIVE_THRESHOLD = 0.2;
export const DEFAULT_ABSOLUTE_THRESHOLD = 0.0003;
export const DEFAULT_MAX_FIELDS = 10_000;

interface Counts {
  candidate: number;
  noise: number;
  /** The request a count was last taken for, so a field counts once per request however often it differs. */
  candidateSeen: number;
  noiseSeen: number;
}

/**
 * Learns, per field, how often the candidate and the secondary differ from the primary, and filters the
 * candidate's differences down to the fields where that is a signal. One filter per endpoint or route
 * keeps the rates meaningful (Diffy keeps them per endpoint). Only observe requests whose comparisons ran
 * (not skipped); differences past `maxDifferences` were never reported, so they are not counted either.
 */
export class NoiseFilter {
  readonly #relative: number;
  readonly #absolute: number;
  readonly #maxFields: number;
  readonly #fields = new Map<string, Counts>();
  #requests = 0;
  #requestsWithSecondary = 0;
  #dropped = 0;

  constructor(options: NoiseFilterOptions = {}) {
    this.#relative = fraction(options.relativeThreshold, DEFAULT_RELATIVE_THRESHOLD, 'relativeThreshold');
    this.#absolute = fraction(options.absoluteThreshold, DEFAULT_ABSOLUTE_THRESHOLD, 'absoluteThreshold');
    const maxFields = options.maxFields ?? DEFAULT_MAX_FIELDS;
    if (!Number.isSafeInteger(maxFields) || maxFields < 0)
      throw new RangeError(`NoiseFilter maxFields must be an integer >= 0 (got ${maxFields})`);
    this.#maxFields = maxFields;
  }

  get requests(): number {
    return this.#requests;
  }

  /**
   * Records one request: the candidate's differences from the primary, and the secondary's (undefined
   * when the secondary did not answer: the request then counts for the candidate rate only).
   */
  observe(candidate: readonly HasPath[], secondary?: readonly HasPath[]): void {
    const request = ++this.#requests;
    for (const difference of candidate) {
      const counts = this.#counts(fieldOf(difference.path));
      if (counts !== undefined && counts.candidateSeen !== request) {
        counts.candidateSeen = request;
        counts.candidate++;
      }
    }
    if (secondary === undefined) return;
    this.#requestsWithSecondary++;
    for (const difference of secondary) {
      const counts = this.#counts(fieldOf(difference.path));
      if (counts !== undefined && counts.noiseSeen !== request) {
        counts.noiseSeen = request;
        counts.noise++;
      }
    }
  }

  /**
   * Whether a difference at `path` is worth reporting. A field never observed, or not tracked because
   * `maxFields` was reached, is reported: only what was learned to be noise is hidden.
   */
  isSignal(path: string): boolean {
    const counts = this.#fields.get(fieldOf(path));
    return counts === undefined || this.#signal(counts);
  }

  /** The differences worth reporting (a new array; the input is untouched). */
  filter<D extends HasPath>(differences: readonly D[]): D[] {
    return differences.filter((d) => this.isSignal(d.path));
  }

  report(): NoiseReport {
    const fields: FieldNoise[] = [];
    for (const [field, counts] of this.#fields) {
      const { candidateRate, noiseRate } = this.#rates(counts);
      fields.push({
        field,
        candidateCount: counts.candidate,
        candidateRate,
        noiseCount: counts.noise,
        noiseRate,
        signal: this.#signal(counts),
      });
    }
    fields.sort(
      (a, b) =>
        Number(b.signal) - Number(a.signal) ||
        b.candidateRate - a.candidateRate ||
        (a.field < b.field ? -1 : a.field > b.field ? 1 : 0),
    );
    return {
      requests: this.#requests,
      requestsWithSecondary: this.#requestsWithSecondary,
      droppedFields: this.#dropped,
      fields,
    };
  }

  #counts(field: string): Counts | undefined {
    let counts = this.#fields.get(field);
    if (counts === undefined) {
      if (this.#fields.size >= this.#maxFields) {
        this.#dropped++;
        return undefined;
      }
      counts = { candidate: 0, noise: 0, candidateSeen: 0, noiseSeen: 0 };
      this.#fields.set(field, counts);
    }
    return counts;
  }

  #rates(counts: Counts): { candidateRate: number; noiseRate: number } {
    return {
      candidateRate: this.#requests === 0 ? 0 : counts.candidate / this.#requests,
      noiseRate: this.#requestsWithSecondary === 0 ? 0 : counts.noise / this.#requestsWithSecondary,
    };
  }

  #signal(counts: Counts): boolean {
    const { candidateRate, noiseRate } = this.#rates(counts);
    const gap = candidateRate - noiseRate;
    return gap > 0 && gap / (candidateRate + noiseRate) > this.#relative && gap > this.#absolute;
  }
}

function fraction(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new RangeError(`NoiseFilter ${name} must be a fraction between 0 and 1 (got ${value})`);
  return value;
}

/**
 * The field a difference is about: array indices become `[*]` (the third item's price is the same field
 * as the first's); keyed elements keep their key (`[id=42]`), names and quoted keys are left alone.
 * `status`, `headers.content-type` and `body` pass through.
 */
export function fieldOf(path: string): string {
  let bracket = path.indexOf('[');
  if (bracket === -1) return path;
  let out = '';
  let from = 0;
  while (bracket !== -1) {
    const c = path.charCodeAt(bracket + 1);
    let end: number;
    if (c >= 0x30 && c <= 0x39) {
      // [123] → [*]
      end = bracket + 1;
      while (end < path.length && path.charCodeAt(end) >= 0x30 && path.charCodeAt(end) <= 0x39) end++;
      if (path[end] === ']') {
        out += `${path.slice(from, bracket)}[*]`;
        from = end + 1;
        bracket = path.indexOf('[', from);
        continue;
      }
    }
    // A quoted name or a keyed element: skip to its closing bracket, stepping over quoted text.
    end = closingBracket(path, bracket + 1);
    bracket = path.indexOf('[', end);
  }
  return from === 0 ? path : out + path.slice(from);
}

/** Index just after the `]` closing a selector that starts at `from`, honouring quotes and escapes. */
function closingBracket(path: string, from: number): number {
  let quote = '';
  for (let i = from; i < path.length; i++) {
    const c = path[i];
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ']') return i + 1;
  }
  return path.length;
}
