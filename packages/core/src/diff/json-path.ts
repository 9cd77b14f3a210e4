/**
 * JSON paths for the differ: the ignore list (`$.meta.requestId`, `$.items[*].updatedAt`, `$..requestId`),
 * per-path array options, and the paths differences are reported at.
 *
 * Grammar (a small, strict subset of JSONPath):
 *
 *   path     := '$' segment*
 *   segment  := '.' name | '.*' | '[' selector ']' | '..' (name | '*' | '[' selector ']')
 *   selector := integer            element by index            $.items[0]
 *             | '*'                any property or element      $.items[*].updatedAt
 *             | 'quoted'|"quoted"  property with any key        $['weird key']
 *             | field=literal      element of a keyed array     $.items[id=42]   $.items[sku="a-1"]
 *
 * `..x` is recursive descent: `x` at any depth below. Paths are compiled once into a lazily built DFA, so
 * matching costs one Map/Set lookup per step and nothing at all below a node no pattern can reach (the
 * walk carries the shared dead state and skips the lookups).
 */

/** One step from a node to a child: a property name, an array index, or a keyed-array element. */
export type PathStep = string | number | KeyedStep;

/** An element of an array compared by key (`arrayOrder: { key: 'id' }`), reported as `[id=42]`. */
export interface KeyedStep {
  readonly field: string;
  readonly value: string | number;
}

/** A parsed path segment; `deep` marks recursive descent (`..`). */
export type PathSegment =
  | { readonly kind: 'name'; readonly name: string; readonly deep: boolean }
  | { readonly kind: 'index'; readonly index: number; readonly deep: boolean }
  | { readonly kind: 'keyed'; readonly id: string; readonly deep: boolean }
  | { readonly kind: 'any'; readonly deep: boolean };

export type ParsedPath =
  | { readonly ok: true; readonly segments: readonly PathSegment[] }
  | { readonly ok: false; readonly message: string };

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;
/** Characters that end a dot-notation name. */
const NAME_END = /[.[\]'"\s=]/;

/** The identity of a keyed element used for matching: `id=42`, `sku="a-1"`. */
export function keyedId(field: string, value: string | number): string {
  return `${field}=${JSON.stringify(value)}`;
}

/** Parses a path; a syntax error comes back as a message naming the column. */
export function parsePath(text: string): ParsedPath {
  if (typeof text !== 'string') return { ok: false, message: 'must be a string starting with "$"' };
  if (text[0] !== '$') return { ok: false, message: `must start with "$" (got "${text}")` };
  const segments: PathSegment[] = [];
  let i = 1;
  const fail = (why: string): ParsedPath => ({
    ok: false,
    message: `${why} at column ${i + 1} in "${text}"`,
  });
  while (i < text.length) {
    let deep = false;
    if (text.startsWith('..', i)) {
      deep = true;
      i += 2;
      if (text[i] !== '[') {
        const name = readName(text, i);
        if (name === '') return fail('expected a name, "*" or "[" after ".."');
        segments.push(name === '*' ? { kind: 'any', deep } : { kind: 'name', name, deep });
        i += name.length;
        continue;
      }
    } else if (text[i] === '.') {
      i++;
      const name = readName(text, i);
      if (name === '') return fail('expected a name or "*" after "."');
      segments.push(name === '*' ? { kind: 'any', deep } : { kind: 'name', name, deep });
      i += name.length;
      continue;
    } else if (text[i] !== '[') {
      return fail(`unexpected "${text[i]}"`);
    }
    // A bracket selector.
    i++;
    const c = text[i];
    if (c === '*') {
      i++;
      segments.push({ kind: 'any', deep });
    } else if (c === "'" || c === '"') {
      const quoted = readQuoted(text, i);
      if (quoted === undefined) return fail('unterminated quoted name');
      segments.push({ kind: 'name', name: quoted.value, deep });
      i = quoted.end;
    } else if (c !== undefined && c >= '0' && c <= '9') {
      const start = i;
      while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
      const index = Number(text.slice(start, i));
      if (!Number.isSafeInteger(index)) return fail('index too large');
      segments.push({ kind: 'index', index, deep });
    } else {
      const eq = text.indexOf('=', i);
      const field = eq === -1 ? '' : text.slice(i, eq);
      if (field === '' || /[\]'"[]/.test(field))
        return fail('expected an index, "*", a quoted name or field=value');
      i = eq + 1;
      const literal = readKeyValue(text, i);
      if (literal === undefined) return fail('expected a number or a quoted string after "="');
      segments.push({ kind: 'keyed', id: keyedId(field, literal.value), deep });
      i = literal.end;
    }
    if (text[i] !== ']') return fail('expected "]"');
    i++;
  }
  return { ok: true, segments };
}

function readName(text: string, from: number): string {
  let end = from;
  while (end < text.length && !NAME_END.test(text[end]!)) end++;
  return text.slice(from, end);
}

/** A quoted name with backslash escapes, quote style either; `end` is the index after the closing quote. */
function readQuoted(text: string, from: number): { value: string; end: number } | undefined {
  const quote = text[from];
  let value = '';
  for (let i = from + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      i++;
      if (i >= text.length) return undefined;
      value += text[i];
    } else if (c === quote) {
      return { value, end: i + 1 };
    } else {
      value += c;
    }
  }
  return undefined;
}

/** The key value of `[field=value]`: a JSON number, a quoted string, or a bare word (taken as a string). */
function readKeyValue(text: string, from: number): { value: string | number; end: number } | undefined {
  const c = text[from];
  if (c === '"' || c === "'") {
    const quoted = readQuoted(text, from);
    if (quoted === undefined) return undefined;
    if (c === "'") return quoted;
    // Double quotes are a JSON string, as reported paths write them (`\n`, `\u0001`).
    try {
      return { value: JSON.parse(text.slice(from, quoted.end)) as string, end: quoted.end };
    } catch {
      return undefined;
    }
  }
  const close = text.indexOf(']', from);
  if (close === -1 || close === from) return undefined;
  const raw = text.slice(from, close);
  const n = Number(raw);
  return {
    value: raw.trim() !== '' && Number.isFinite(n) && /^-?[\d.eE+-]+$/.test(raw) ? n : raw,
    end: close,
  };
}

/** Renders steps as a path a user can paste into `ignore`: `$.items[3].price`, `$['a b']`, `$.items[id=42]`. */
export function formatPath(steps: readonly PathStep[], length: number = steps.length): string {
  let out = '$';
  for (let i = 0; i < length; i++) {
    const step = steps[i]!;
    if (typeof step === 'number') out += `[${step}]`;
    else if (typeof step === 'string')
      out += IDENTIFIER.test(step) ? `.${step}` : `['${step.replace(/[\\']/g, '\\$&')}']`;
    else out += `[${keyedId(step.field, step.value)}]`;
  }
  return out;
}

// ── matching ────────────────────────────────────────────────────────────────────────────────────────

/** A compiled pattern and what it means to the caller (ignore, an array order, ...). */
export interface PathPattern<T> {
  readonly segments: readonly PathSegment[];
  readonly tag: T;
}

/** Interned DFA states per matcher; past this, transitions are computed but no longer cached. */
const MAX_STATES = 4096;
const NO_MATCHES: readonly never[] = Object.freeze([]);

/**
 * Where a walk stands against every pattern at once: the set of pattern positions still alive. `matches`
 * lists the tags of patterns that end exactly at this node, in declaration order.
 */
export class MatchState<T> {
  readonly matches: readonly T[];
  /** No pattern can match this node or anything below it. */
  readonly dead: boolean;
  readonly #matcher: PathMatcher<T>;
  readonly #positions: readonly number[];
  // Literal names/indexes/keys this state's patterns mention; `null` until that transition is computed.
  readonly #names: Map<string, MatchState<T> | null> | undefined;
  readonly #indexes: Map<number, MatchState<T> | null> | undefined;
  readonly #keyed: Map<string, MatchState<T> | null> | undefined;
  #otherName: MatchState<T> | undefined;
  #otherIndex: MatchState<T> | undefined;
  #otherKeyed: MatchState<T> | undefined;

  constructor(matcher: PathMatcher<T>, positions: readonly number[]) {
    this.#matcher = matcher;
    this.#positions = positions;
    this.dead = positions.length === 0;
    const matches: T[] = [];
    let names: Map<string, MatchState<T> | null> | undefined;
    let indexes: Map<number, MatchState<T> | null> | undefined;
    let keyed: Map<string, MatchState<T> | null> | undefined;
    for (const position of positions) {
      const segment = matcher.segmentAt(position);
      if (segment === undefined) {
        matches.push(matcher.tagAt(position));
        continue;
      }
      // Literal names/indexes/keys get their own cached transition; everything else shares one.
      if (segment.kind === 'name') {
        names ??= new Map();
        names.set(segment.name, null);
      } else if (segment.kind === 'index') {
        indexes ??= new Map();
        indexes.set(segment.index, null);
      } else if (segment.kind === 'keyed') {
        keyed ??= new Map();
        keyed.set(segment.id, null);
      }
    }
    this.matches = matches.length === 0 ? NO_MATCHES : matches;
    this.#names = names;
    this.#indexes = indexes;
    this.#keyed = keyed;
    if (this.dead) {
      this.#otherName = this;
      this.#otherIndex = this;
      this.#otherKeyed = this;
    }
  }

  /** The state at property `key` of this node. */
  name(key: string): MatchState<T> {
    const names = this.#names;
    if (names !== undefined) {
      const next = names.get(key);
      if (next !== undefined) {
        if (next !== null) return next;
        const computed = this.#advance((s) => s.kind === 'any' || (s.kind === 'name' && s.name === key));
        if (this.#matcher.caching) names.set(key, computed);
        return computed;
      }
    }
    this.#otherName ??= this.#advance((s) => s.kind === 'any');
    return this.#otherName;
  }

  /** The state at element `index` of this array. */
  index(index: number): MatchState<T> {
    const indexes = this.#indexes;
    if (indexes !== undefined) {
      const next = indexes.get(index);
      if (next !== undefined) {
        if (next !== null) return next;
        const computed = this.#advance((s) => s.kind === 'any' || (s.kind === 'index' && s.index === index));
        if (this.#matcher.caching) indexes.set(index, computed);
        return computed;
      }
    }
    return this.anyIndex();
  }

  /** The state at an element whose position means nothing (unordered arrays, sets): only `[*]` and `..` match. */
  anyIndex(): MatchState<T> {
    this.#otherIndex ??= this.#advance((s) => s.kind === 'any');
    return this.#otherIndex;
  }

  /** The state at the element of a keyed array whose `field` is `value`. */
  keyed(field: string, value: string | number): MatchState<T> {
    const keyed = this.#keyed;
    if (keyed !== undefined) {
      const id = keyedId(field, value);
      const next = keyed.get(id);
      if (next !== undefined) {
        if (next !== null) return next;
        const computed = this.#advance((s) => s.kind === 'any' || (s.kind === 'keyed' && s.id === id));
        if (this.#matcher.caching) keyed.set(id, computed);
        return computed;
      }
    }
    this.#otherKeyed ??= this.#advance((s) => s.kind === 'any');
    return this.#otherKeyed;
  }

  /** The dead state of this matcher: nothing matches there, for values no path can address (map keys). */
  get none(): MatchState<T> {
    return this.dead ? this : this.#matcher.intern([]);
  }

  /** The state at any kind of step. */
  step(step: PathStep): MatchState<T> {
    if (this.dead) return this;
    if (typeof step === 'string') return this.name(step);
    if (typeof step === 'number') return this.index(step);
    return this.keyed(step.field, step.value);
  }

  #advance(matches: (segment: PathSegment) => boolean): MatchState<T> {
    const next: number[] = [];
    for (const position of this.#positions) {
      const segment = this.#matcher.segmentAt(position);
      if (segment === undefined) continue;
      // Recursive descent stays alive at every depth below.
      if (segment.deep) next.push(position);
      if (matches(segment)) next.push(position + 1);
    }
    return this.#matcher.intern(next);
  }
}

/**
 * Every pattern compiled into one lazily built DFA. Positions are encoded as `pattern * STRIDE + segment`,
 * a state is the sorted set of live positions, and equal sets share one state object.
 */
export class PathMatcher<T> {
  readonly root: MatchState<T>;
  readonly #patterns: readonly PathPattern<T>[];
  readonly #stride: number;
  readonly #states = new Map<string, MatchState<T>>();

  constructor(patterns: readonly PathPattern<T>[]) {
    this.#patterns = patterns;
    this.#stride = Math.max(1, ...patterns.map((p) => p.segments.length + 1));
    this.root = this.intern(patterns.map((_, p) => p * this.#stride));
  }

  /** True while new transitions may still be cached (bounded memory for pathological pattern sets). */
  get caching(): boolean {
    return this.#states.size < MAX_STATES;
  }

  segmentAt(position: number): PathSegment | undefined {
    const pattern = this.#patterns[Math.floor(position / this.#stride)]!;
    return pattern.segments[position % this.#stride];
  }

  tagAt(position: number): T {
    return this.#patterns[Math.floor(position / this.#stride)]!.tag;
  }

  intern(positions: number[]): MatchState<T> {
    const unique = [...new Set(positions)].sort((a, b) => a - b);
    const key = unique.join(',');
    let state = this.#states.get(key);
    if (state === undefined) {
      state = new MatchState(this, unique);
      if (this.caching) this.#states.set(key, state);
    }
    return state;
  }
}
