import { formatPath, type PathStep } from './json-path.js';
import {
  type CompiledDiffOptions,
  compileDiffOptions,
  type DiffOptions,
  type DiffState,
  isIgnored,
  orderAt,
} from './options.js';
import { previewValue } from './preview.js';
import {
  BOXED,
  BYTES,
  bytesOf,
  DATE,
  ERROR,
  INSTANCE,
  MAP,
  OBJECT,
  OPAQUE,
  objectKind,
  REGEXP,
  SET,
} from './value-kind.js';

/**
 * The deep differ every comparison shares: shadow responses, replayed responses and in-process experiments.
 *
 * One walk over both trees at once. In the equal case it allocates nothing per node: paths are a stack of
 * steps turned into a string only when a difference is reported, and ignore paths are a DFA state carried
 * down the walk (a dead state below any node no pattern can reach, so no lookups there).
 *
 * Equality, decided once for every caller:
 * - numbers: `NaN` equals `NaN` and `-0` equals `0` (JSON cannot tell them apart usefully); with a
 *   tolerance, finite numbers within it are equal (inclusive, floating-point rounding forgiven);
 *   `Infinity` only equals itself; a bigint never equals a number.
 * - objects: own enumerable string keys; a property holding `undefined` is the same as an absent one
 *   (as in JSON). Plain objects from any realm and null-prototype objects are alike; class instances
 *   must share a prototype, then compare field by field.
 * - Date by time, RegExp by source and flags, Map by key (keys by identity, as Map does), Set as a
 *   multiset of values, typed arrays/Buffers/ArrayBuffers byte for byte (same class), boxed primitives by
 *   value, Errors by name and message then fields, functions/symbols/promises/weak collections by
 *   identity. Cycles are followed until the pair of nodes repeats, then taken as equal.
 */

export type DifferenceKind = 'changed' | 'missing' | 'added' | 'type';

/**
 * One difference. `missing`: in the primary only; `added`: in the candidate only; `type`: different kinds
 * of value (number vs string, object vs array, ...); `changed`: same kind, different value. Values are
 * previews, cut to `maxValueLength`.
 */
export interface Difference {
  /** Where: `$.items[3].price`, `$.items[id=42].price` for keyed arrays, `status`, `headers.content-type`, `body`. */
  readonly path: string;
  readonly kind: DifferenceKind;
  readonly primary?: unknown;
  readonly candidate?: unknown;
  /** Extra context, e.g. the first differing byte of a binary body. */
  readonly detail?: string;
}

/** Why a comparison stopped without an answer. */
export type ValueSkipReason = 'budget' | 'error';

export interface ValueDiff {
  /** True only when the whole comparison ran and found nothing. */
  readonly equal: boolean;
  readonly differences: Difference[];
  /** More than `maxDifferences` differences: the rest were not looked for. */
  readonly truncated: boolean;
  /**
   * `budget`: past `maxNodes`, `budgetMs` or `maxDepth`; `error`: reading a value threw (a getter, a
   * Proxy). `equal` is then false but means "unknown"; the differences found so far are kept.
   */
  readonly skipped?: ValueSkipReason;
  /** Nodes visited, for budgeting and benchmarks. */
  readonly nodes: number;
}

/** Deep-compares two values. Never throws on any values (invalid options throw CanaryConfigError). */
export function compareValues(
  primary: unknown,
  candidate: unknown,
  options?: DiffOptions | CompiledDiffOptions,
): ValueDiff {
  const compiled = compileDiffOptions(options);
  return diffValues(primary, candidate, compiled, [], compiled.maxDifferences);
}

/**
 * `compareValues` appending to `differences`, with room for at most `maxDifferences` in total. For
 * response diffs, whose status and header differences count toward the same cap, and whose values come
 * from JSON.parse: `acyclic` skips the ancestor search cycles need.
 */
export function diffValues(
  primary: unknown,
  candidate: unknown,
  options: CompiledDiffOptions,
  differences: Difference[],
  maxDifferences: number,
  acyclic = false,
): ValueDiff {
  const walker = spare ?? new Walker();
  spare = undefined;
  const before = differences.length;
  walker.start(options, differences, maxDifferences, acyclic);
  try {
    if (!isIgnored(options.root)) walker.compare(primary, candidate, options.root);
  } catch {
    walker.stop = ERROR_STOP;
  }
  const { stop, truncated, nodes } = walker;
  walker.finish();
  spare = walker;
  const result: { -readonly [K in keyof ValueDiff]: ValueDiff[K] } = {
    equal: stop === RUNNING && differences.length === before,
    differences,
    truncated,
    nodes,
  };
  if (stop === BUDGET_STOP) result.skipped = 'budget';
  else if (stop === ERROR_STOP) result.skipped = 'error';
  return result;
}

/** One walker is kept for reuse; a re-entrant call (a getter that compares) simply makes its own. */
let spare: Walker | undefined;

const RUNNING = 0;
/** A probe (is this pair equal?) met a difference: unwind to the probe, which answers false. */
const PROBE_FAILED = 1;
/** `maxDifferences` reached. */
const FULL = 2;
const BUDGET_STOP = 3;
const ERROR_STOP = 4;

/** Nodes between two clock reads when `budgetMs` is set. */
const CLOCK_EVERY = 1024;

const hasOwn = Object.hasOwn;

class Walker {
  o!: CompiledDiffOptions;
  differences!: Difference[];
  max = 0;
  stop = RUNNING;
  truncated = false;
  nodes = 0;
  deadline = Number.POSITIVE_INFINITY;
  /** The current path: `steps[0 .. depth)`. */
  readonly steps: PathStep[] = [];
  depth = 0;
  /** Search ancestors for cycles: O(depth) per container, skipped for parsed JSON. */
  checkCycles = true;
  /** Containers on the current path (index = depth), for cycle detection. */
  readonly seenA: (object | undefined)[] = [];
  readonly seenB: (object | undefined)[] = [];
  /** Hash numbers exactly even under a tolerance (the first pass of multiset pairing). */
  exactNumbers = false;
  /** Containers on the path of the hash being computed, for cycle detection. */
  readonly hashStack: object[] = [];
  hashDepth = 0;
  /** Nesting of probes: while > 0, a difference fails the probe instead of being reported. */
  probing = 0;
  highWater = 0;

  start(options: CompiledDiffOptions, differences: Difference[], max: number, acyclic: boolean): void {
    this.o = options;
    this.checkCycles = !acyclic;
    this.differences = differences;
    this.max = max;
    this.stop = RUNNING;
    this.truncated = false;
    this.nodes = 0;
    this.deadline =
      options.budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.budgetMs;
    this.depth = 0;
    this.hashDepth = 0;
    this.exactNumbers = false;
    this.probing = 0;
  }

  /** Drops references to the compared values so a kept walker does not keep a big body alive. */
  finish(): void {
    // Containers are recorded up to the deepest one seen; their children's steps one level further.
    const end = this.highWater + 2;
    this.steps.fill(0, 0, Math.min(end, this.steps.length));
    this.seenA.fill(undefined, 0, Math.min(end, this.seenA.length));
    this.seenB.fill(undefined, 0, Math.min(end, this.seenB.length));
    this.hashStack.length = 0;
    this.highWater = 0;
    this.differences = [];
  }

  #spend(): boolean {
    const nodes = ++this.nodes;
    if (nodes > this.o.maxNodes || ((nodes & (CLOCK_EVERY - 1)) === 0 && performance.now() > this.deadline)) {
      this.stop = BUDGET_STOP;
      return false;
    }
    return true;
  }

  // ── reporting ─────────────────────────────────────────────────────────────────────────────────────

  report(kind: DifferenceKind, primary: unknown, candidate: unknown, detail?: string): void {
    if (this.probing > 0) {
      this.stop = PROBE_FAILED;
      return;
    }
    if (this.differences.length >= this.max) {
      this.truncated = true;
      this.stop = FULL;
      return;
    }
    const length = this.o.maxValueLength;
    const path = formatPath(this.steps, this.depth);
    const difference: { -readonly [K in keyof Difference]: Difference[K] } = { path, kind };
    if (kind !== 'added') difference.primary = previewValue(primary, length);
    if (kind !== 'missing') difference.candidate = previewValue(candidate, length);
    if (detail !== undefined) difference.detail = detail;
    this.differences.push(difference);
  }

  /** Reports a difference at child `step` of the current node. */
  reportAt(step: PathStep, kind: DifferenceKind, primary: unknown, candidate: unknown): void {
    const depth = this.depth;
    this.steps[depth] = step;
    this.depth = depth + 1;
    this.report(kind, primary, candidate);
    this.depth = depth;
  }

  /** Compares child `step` of the current node. */
  child(step: PathStep, a: unknown, b: unknown, state: DiffState): void {
    const depth = this.depth;
    this.steps[depth] = step;
    this.depth = depth + 1;
    this.compare(a, b, state);
    this.depth = depth;
  }

  /** Whether `a` and `b` (at child `step`) are equal, reporting nothing. */
  probe(step: PathStep, a: unknown, b: unknown, state: DiffState): boolean {
    this.probing++;
    this.child(step, a, b, state);
    this.probing--;
    if (this.stop === PROBE_FAILED) {
      this.stop = RUNNING;
      return false;
    }
    return this.stop === RUNNING;
  }

  // ── the walk ──────────────────────────────────────────────────────────────────────────────────────

  compare(a: unknown, b: unknown, state: DiffState): void {
    if (!this.#spend() || a === b) return;
    const type = typeof a;
    if (type !== typeof b) {
      this.report('type', a, b);
      return;
    }
    if (type === 'number') {
      if (!this.#numbersEqual(a as number, b as number)) this.report('changed', a, b);
      return;
    }
    if (type !== 'object') {
      this.report('changed', a, b);
      return;
    }
    if (a === null || b === null) {
      this.report('type', a, b);
      return;
    }
    const isArray = Array.isArray(a);
    if (isArray !== Array.isArray(b)) {
      this.report('type', a, b);
      return;
    }
    const depth = this.depth;
    if (depth >= this.o.maxDepth) {
      this.stop = BUDGET_STOP;
      return;
    }
    // Checked at every depth: a cycle that branches would otherwise be unrolled exponentially.
    if (this.checkCycles && depth > 0 && this.#onCycle(a as object, b as object)) return;
    this.seenA[depth] = a as object;
    this.seenB[depth] = b as object;
    if (depth > this.highWater) this.highWater = depth;
    if (isArray) {
      this.#array(a as unknown[], b as unknown[], state);
      return;
    }
    this.#object(a as object, b as object, state);
  }

  #numbersEqual(a: number, b: number): boolean {
    // a !== b here (the caller checked); NaN equals NaN.
    if (Number.isNaN(a)) return Number.isNaN(b);
    const o = this.o;
    if (!o.tolerant || !Number.isFinite(a) || !Number.isFinite(b)) return false;
    const magnitude = Math.max(Math.abs(a), Math.abs(b));
    // Forgive rounding: 1.00 vs 1.01 with tolerance 0.01 computes a gap of 0.010000000000000009.
    const gap = Math.abs(a - b) - 8 * Number.EPSILON * Math.max(1, magnitude);
    return gap <= o.absolute || gap <= o.relative * magnitude;
  }

  /** True when this pair of containers is already being compared higher up: a cycle, taken as equal. */
  #onCycle(a: object, b: object): boolean {
    const seenA = this.seenA;
    const seenB = this.seenB;
    for (let i = this.depth - 1; i >= 0; i--) if (seenA[i] === a && seenB[i] === b) return true;
    return false;
  }

  #object(a: object, b: object, state: DiffState): void {
    const kind = objectKind(a);
    if (kind !== objectKind(b)) {
      this.report('type', a, b);
      return;
    }
    switch (kind) {
      case OBJECT:
        this.#fields(a as Record<string, unknown>, b as Record<string, unknown>, state);
        break;
      case INSTANCE:
        if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) this.report('type', a, b);
        else this.#fields(a as Record<string, unknown>, b as Record<string, unknown>, state);
        break;
      case DATE: {
        const ta = (a as Date).getTime();
        const tb = (b as Date).getTime();
        if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) this.report('changed', a, b);
        break;
      }
      case REGEXP:
        if (String(a) !== String(b)) this.report('changed', a, b);
        break;
      case MAP:
        this.#map(a as Map<unknown, unknown>, b as Map<unknown, unknown>, state);
        break;
      case SET:
        this.#unordered([...(a as Set<unknown>)], [...(b as Set<unknown>)], state);
        break;
      case BYTES:
        this.#bytes(a, b);
        break;
      case BOXED:
        // Same path: the box is not a level of its own.
        this.compare(a.valueOf(), b.valueOf(), state);
        break;
      case ERROR:
        if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) this.report('type', a, b);
        else if ((a as Error).name !== (b as Error).name || (a as Error).message !== (b as Error).message)
          this.report('changed', a, b);
        else this.#fields(a as Record<string, unknown>, b as Record<string, unknown>, state);
        break;
      default:
        // OPAQUE: nothing to look inside, and a === b was already false.
        this.report('changed', a, b);
    }
  }

  #fields(a: Record<string, unknown>, b: Record<string, unknown>, state: DiffState): void {
    const dead = state.dead;
    for (const key in a) {
      if (!hasOwn(a, key)) continue;
      const va = a[key];
      if (va === undefined) continue;
      let child = state;
      if (!dead) {
        child = state.name(key);
        if (child.matches.length !== 0 && isIgnored(child)) continue;
      }
      const vb = hasOwn(b, key) ? b[key] : undefined;
      if (vb === undefined) this.reportAt(key, 'missing', va, undefined);
      else this.child(key, va, vb, child);
      if (this.stop !== RUNNING) return;
    }
    for (const key in b) {
      if (!hasOwn(b, key)) continue;
      const vb = b[key];
      if (vb === undefined || (hasOwn(a, key) && a[key] !== undefined)) continue;
      if (!dead) {
        const child = state.name(key);
        if (child.matches.length !== 0 && isIgnored(child)) continue;
      }
      this.reportAt(key, 'added', undefined, vb);
      if (this.stop !== RUNNING) return;
    }
  }

  /**
   * Entries pair by key as the Map sees it (SameValueZero). Object keys missing on the other side by
   * identity are then paired by content (a cloned Map has new key objects), so only those few cost probes.
   */
  #map(a: Map<unknown, unknown>, b: Map<unknown, unknown>, state: DiffState): void {
    let strayA: unknown[] | undefined;
    let strayB: unknown[] | undefined;
    for (const [key, va] of a) {
      if (!b.has(key) && isObjectKey(key)) {
        strayA ??= [];
        strayA.push(key);
      } else this.#mapEntry(key, va, b.has(key), b.get(key), state);
      if (this.stop !== RUNNING) return;
    }
    for (const [key, vb] of b) {
      if (a.has(key)) continue;
      if (isObjectKey(key)) {
        strayB ??= [];
        strayB.push(key);
      } else this.#mapEntry(key, undefined, false, vb, state, true);
      if (this.stop !== RUNNING) return;
    }
    if (strayA === undefined && strayB === undefined) return;
    const keysB = strayB ?? [];
    const used = new Uint8Array(keysB.length);
    const none = state.none;
    for (const ka of strayA ?? []) {
      let found = -1;
      for (let j = 0; j < keysB.length && found === -1; j++) {
        if (used[j] === 0 && this.probe('(key)', ka, keysB[j], none)) found = j;
        if (this.stop !== RUNNING) return;
      }
      if (found !== -1) used[found] = 1;
      this.#mapEntry(ka, a.get(ka), found !== -1, found === -1 ? undefined : b.get(keysB[found]), state);
      if (this.stop !== RUNNING) return;
    }
    for (let j = 0; j < keysB.length; j++) {
      if (used[j] === 0) this.#mapEntry(keysB[j], undefined, false, b.get(keysB[j]), state, true);
      if (this.stop !== RUNNING) return;
    }
  }

  /** One entry: compared when both sides have it, else missing (or `added`, from the candidate's side). */
  #mapEntry(key: unknown, va: unknown, inB: boolean, vb: unknown, state: DiffState, added = false): void {
    const step = mapStep(key);
    const child = state.step(step);
    if (isIgnored(child)) return;
    if (added) this.reportAt(step, 'added', undefined, vb);
    else if (inB) this.child(step, va, vb, child);
    else this.reportAt(step, 'missing', va, undefined);
  }

  #bytes(a: object, b: object): void {
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
      this.report('type', a, b);
      return;
    }
    const ba = bytesOf(a);
    const bb = bytesOf(b);
    if (ba.equals(bb)) return;
    this.report('changed', a, b, describeByteDifference(ba, bb));
  }

  // ── arrays ────────────────────────────────────────────────────────────────────────────────────────

  #array(a: unknown[], b: unknown[], state: DiffState): void {
    const order = state.matches.length === 0 ? this.o.arrayOrder : orderAt(state, this.o.arrayOrder);
    if (order === 'ordered') this.#ordered(a, b, state);
    else if (order === 'unordered') this.#unordered(a, b, state);
    else this.#keyed(a, b, state, order.key);
  }

  #ordered(a: unknown[], b: unknown[], state: DiffState): void {
    const dead = state.dead;
    const shared = Math.min(a.length, b.length);
    for (let i = 0; i < shared; i++) {
      let child = state;
      if (!dead) {
        child = state.index(i);
        if (child.matches.length !== 0 && isIgnored(child)) continue;
      }
      this.child(i, a[i], b[i], child);
      if (this.stop !== RUNNING) return;
    }
    for (let i = shared; i < a.length; i++) {
      if (!dead && isIgnored(state.index(i))) continue;
      this.reportAt(i, 'missing', a[i], undefined);
      if (this.stop !== RUNNING) return;
    }
    for (let i = shared; i < b.length; i++) {
      if (!dead && isIgnored(state.index(i))) continue;
      this.reportAt(i, 'added', undefined, b[i]);
      if (this.stop !== RUNNING) return;
    }
  }

  /**
   * Multiset comparison. Elements equal at the same position are paired first (free when the order did
   * not change); the rest are chained by a hash that equal elements always share, so pairing is O(n)
   * and a chain holds more than one element only for near-duplicates and collisions.
   */
  #unordered(a: unknown[], b: unknown[], state: DiffState): void {
    // An element's position means nothing here, so only `[*]` and `..` patterns apply below.
    const element = state.dead ? state : state.anyIndex();
    if (isIgnored(element)) return;
    // Allocated only once something is out of place.
    let restA: number[] | undefined;
    let restB: number[] | undefined;
    const shared = Math.min(a.length, b.length);
    for (let i = 0; i < shared; i++) {
      if (this.probe(i, a[i], b[i], element)) continue;
      if (this.stop !== RUNNING) return;
      restA ??= [];
      restB ??= [];
      restA.push(i);
      restB.push(i);
    }
    if (restA === undefined && a.length === b.length) return;
    restA ??= [];
    restB ??= [];
    for (let i = shared; i < a.length; i++) restA.push(i);
    for (let i = shared; i < b.length; i++) restB.push(i);
    this.#multiset(a, b, restA, restB, element);
  }

  /** Pairs the elements `a[restA]` with `b[restB]` as multisets and reports what is left. */
  #multiset(a: unknown[], b: unknown[], restA: number[], restB: number[], element: DiffState): void {
    let leftA = restA;
    let leftB = restB;
    // Under a tolerance, equal numbers need not be identical, so they must all hash alike, and a list of
    // {id, price} items would share one chain. Exactly equal elements are paired first with exact number
    // hashes; only what is left goes through the coarse pass.
    // (Probes may run a nested multiset, hence the mode is saved and restored around both passes.)
    const outerMode = this.exactNumbers;
    if (this.o.tolerant) {
      this.exactNumbers = true;
      [leftA, leftB] = this.#pairByHash(a, b, leftA, leftB, element);
      if (this.stop !== RUNNING) return;
    }
    this.exactNumbers = false;
    [leftA, leftB] = this.#pairByHash(a, b, leftA, leftB, element);
    this.exactNumbers = outerMode;
    if (this.stop !== RUNNING) return;
    // What is left differs. Pairing leftovers in order gives field-level detail for the common case of
    // one changed element; with several, the pairs may be arbitrary, but the verdict is the same.
    const pairs = Math.min(leftA.length, leftB.length);
    for (let k = 0; k < pairs; k++) {
      this.child(leftA[k]!, a[leftA[k]!], b[leftB[k]!], element);
      if (this.stop !== RUNNING) return;
    }
    for (let k = pairs; k < leftA.length; k++) {
      this.reportAt(leftA[k]!, 'missing', a[leftA[k]!], undefined);
      if (this.stop !== RUNNING) return;
    }
    for (let k = pairs; k < leftB.length; k++) {
      this.reportAt(leftB[k]!, 'added', undefined, b[leftB[k]!]);
      if (this.stop !== RUNNING) return;
    }
  }

  /**
   * Pairs equal elements of `a[restA]` and `b[restB]`; returns the indices left unpaired on each side.
   * Candidate elements are chained by hash (`head`: hash → first index, `next`: the rest, in index order);
   * a pair in one chain is confirmed by a probe, so a collision costs one comparison.
   */
  #pairByHash(
    a: unknown[],
    b: unknown[],
    restA: number[],
    restB: number[],
    element: DiffState,
  ): [number[], number[]] {
    if (restA.length === 0 || restB.length === 0) return [restA, restB];
    const head = new Map<number, number>();
    const next = new Int32Array(b.length);
    for (let x = restB.length - 1; x >= 0; x--) {
      const j = restB[x]!;
      const hash = this.hash(b[j], element);
      if (this.stop !== RUNNING) return [restA, restB];
      next[j] = head.get(hash) ?? -1;
      head.set(hash, j);
    }
    const paired = new Uint8Array(b.length);
    const leftA: number[] = [];
    for (const i of restA) {
      const hash = this.hash(a[i], element);
      if (this.stop !== RUNNING) return [restA, restB];
      let j = head.get(hash) ?? -1;
      let previous = -1;
      while (j !== -1 && !this.probe(i, a[i], b[j], element)) {
        if (this.stop !== RUNNING) return [restA, restB];
        previous = j;
        j = next[j]!;
      }
      if (j === -1) {
        leftA.push(i);
        continue;
      }
      // Unlink the partner, so runs of equal elements pair in O(1) each.
      paired[j] = 1;
      if (previous !== -1) next[previous] = next[j]!;
      else if (next[j] === -1) head.delete(hash);
      else head.set(hash, next[j]!);
    }
    return [leftA, restB.filter((j) => paired[j] === 0)];
  }

  /**
   * Elements paired by `field`, reported as `[field=value]`. The common case, same keys in the same order,
   * pairs positionally without building maps. Elements without a string/number key, or repeating a key
   * already seen on their side, fall back to multiset comparison.
   */
  #keyed(a: unknown[], b: unknown[], state: DiffState, field: string): void {
    const shared = Math.min(a.length, b.length);
    let i = 0;
    for (; i < shared; i++) {
      const key = keyOf(a[i], field);
      if (key === undefined || key !== keyOf(b[i], field)) break;
      this.#keyedPair(field, key, a[i], b[i], state);
      if (this.stop !== RUNNING) return;
    }
    if (i === a.length && i === b.length) return;
    const byKey = new Map<string | number, number>();
    const keylessB: number[] = [];
    for (let j = i; j < b.length; j++) {
      const key = keyOf(b[j], field);
      if (key === undefined || byKey.has(key)) keylessB.push(j);
      else byKey.set(key, j);
    }
    const seenA = new Set<string | number>();
    const keylessA: number[] = [];
    for (let x = i; x < a.length; x++) {
      const key = keyOf(a[x], field);
      if (key === undefined || seenA.has(key)) {
        keylessA.push(x);
        continue;
      }
      seenA.add(key);
      const j = byKey.get(key);
      if (j === undefined) {
        const child = state.dead ? state : state.keyed(field, key);
        if (!isIgnored(child)) this.reportAt({ field, value: key }, 'missing', a[x], undefined);
      } else {
        byKey.delete(key);
        this.#keyedPair(field, key, a[x], b[j], state);
      }
      if (this.stop !== RUNNING) return;
    }
    for (const [key, j] of byKey) {
      const child = state.dead ? state : state.keyed(field, key);
      if (!isIgnored(child)) this.reportAt({ field, value: key }, 'added', undefined, b[j]);
      if (this.stop !== RUNNING) return;
    }
    if (keylessA.length > 0 || keylessB.length > 0) {
      const element = state.dead ? state : state.anyIndex();
      if (!isIgnored(element)) this.#multiset(a, b, keylessA, keylessB, element);
    }
  }

  #keyedPair(field: string, key: string | number, a: unknown, b: unknown, state: DiffState): void {
    const child = state.dead ? state : state.keyed(field, key);
    if (child.matches.length !== 0 && isIgnored(child)) return;
    this.child({ field, value: key }, a, b, child);
  }

  // ── hashes for multiset pairing ───────────────────────────────────────────────────────────────────

  /**
   * A 32-bit hash that any two values this walker calls equal share: object entries combined regardless of
   * order, ignored paths left out, unordered arrays as sums, numbers reduced to "a number" under a
   * tolerance. It may be coarser than equality (Maps and Sets hash by size, instances not by class):
   * pairs with the same hash are confirmed by a probe. Allocates nothing for JSON values.
   */
  hash(v: unknown, state: DiffState): number {
    if (!this.#spend()) return 0;
    switch (typeof v) {
      case 'string':
        return hashString(v, SEED_STRING);
      case 'number':
        return this.o.tolerant && !this.exactNumbers ? SEED_NUMBER : hashNumber(v);
      case 'bigint':
        return hashString(v.toString(), SEED_BIGINT);
      case 'boolean':
        return v ? 1 : 2;
      case 'undefined':
        return 3;
      case 'symbol':
        return 4;
      case 'function':
        return 5;
    }
    if (v === null) return 6;
    const object = v as object;
    const depth = this.hashDepth;
    if (this.depth + depth >= this.o.maxDepth) {
      this.stop = BUDGET_STOP;
      return 0;
    }
    const stack = this.hashStack;
    if (this.checkCycles && depth > 0) {
      const at = stack.lastIndexOf(object, depth - 1);
      if (at !== -1) return mix(SEED_CYCLE + depth - at);
    }
    stack[depth] = object;
    this.hashDepth = depth + 1;
    try {
      return Array.isArray(object) ? this.#arrayHash(object, state) : this.#objectHash(object, state);
    } finally {
      this.hashDepth = depth;
    }
  }

  #arrayHash(array: unknown[], state: DiffState): number {
    const order = state.matches.length === 0 ? this.o.arrayOrder : orderAt(state, this.o.arrayOrder);
    if (order === 'ordered') {
      let h = SEED_ARRAY;
      for (let i = 0; i < array.length; i++) {
        const child = state.dead ? state : state.index(i);
        h = Math.imul(h ^ (isIgnored(child) ? 7 : this.hash(array[i], child)), FNV_PRIME);
      }
      return mix(h);
    }
    // Unordered and keyed arrays compare as multisets of elements: a sum does not depend on order.
    const element = state.dead ? state : state.anyIndex();
    const field = typeof order === 'object' ? order.key : undefined;
    let sum = 0;
    for (const item of array) {
      const key = field === undefined ? undefined : keyOf(item, field);
      const child =
        key === undefined || field === undefined || state.dead ? element : state.keyed(field, key);
      if (!isIgnored(child)) sum = (sum + this.hash(item, child)) | 0;
    }
    return mix(sum ^ SEED_SET);
  }

  #objectHash(object: object, state: DiffState): number {
    switch (objectKind(object)) {
      case DATE:
        return hashNumber((object as Date).getTime());
      case REGEXP:
        return hashString(String(object), SEED_STRING);
      case MAP:
        return mix((object as Map<unknown, unknown>).size ^ SEED_MAP);
      case SET:
        return mix((object as Set<unknown>).size ^ SEED_SET);
      case BYTES:
        return hashBytes(bytesOf(object));
      case BOXED:
        return this.hash(object.valueOf(), state);
      case ERROR:
        return hashString((object as Error).message, hashString((object as Error).name, SEED_STRING));
      case OPAQUE:
        return 8;
    }
    const record = object as Record<string, unknown>;
    let sum = 0;
    for (const name in record) {
      if (!hasOwn(record, name)) continue;
      const value = record[name];
      if (value === undefined) continue;
      const child = state.dead ? state : state.name(name);
      if (child.matches.length !== 0 && isIgnored(child)) continue;
      sum = (sum + mix(hashString(name, SEED_NAME) ^ Math.imul(this.hash(value, child), GOLDEN))) | 0;
    }
    return mix(sum ^ SEED_OBJECT);
  }
}

const FNV_PRIME = 0x01000193;
const GOLDEN = 0x9e3779b1;
const SEED_STRING = 0x811c9dc5;
const SEED_NAME = 0x2545f491;
const SEED_BIGINT = 0x6a09e667;
const SEED_NUMBER = 0x3c6ef372;
const SEED_ARRAY = 0x510e527f;
const SEED_SET = 0x1f83d9ab;
const SEED_MAP = 0x5be0cd19;
const SEED_OBJECT = 0x9b05688c;
const SEED_CYCLE = 0x243f6a88;

/** MurmurHash3's finalizer: every input bit affects every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** FNV-1a over UTF-16 code units, finalized. */
function hashString(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return mix(h);
}

function hashBytes(bytes: Uint8Array): number {
  let h = SEED_STRING ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return mix(h);
}

const float = new Float64Array(1);
const words = new Int32Array(float.buffer);

/** Equal numbers hash alike: -0 as 0, every NaN as one. */
function hashNumber(n: number): number {
  if (n === 0) return SEED_NUMBER;
  if ((n | 0) === n) return mix(n ^ SEED_NUMBER);
  if (Number.isNaN(n)) return mix(SEED_NUMBER + 1);
  float[0] = n;
  return mix(words[0]! ^ mix(words[1]!));
}

/** A keyed-array element's key: a string or finite number field; anything else means "no key". */
function keyOf(element: unknown, field: string): string | number | undefined {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return undefined;
  if (!hasOwn(element, field)) return undefined;
  const key = (element as Record<string, unknown>)[field];
  return typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key)) ? key : undefined;
}

const isObjectKey = (key: unknown) => (key !== null && typeof key === 'object') || typeof key === 'function';

/** Map entries are addressed like properties (string keys) or elements (integer keys); others by preview. */
function mapStep(key: unknown): PathStep {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' && Number.isSafeInteger(key) && key >= 0) return key;
  return String(previewValue(key, 40));
}

/** "first difference at byte 57 (120 vs 130 bytes)". */
export function describeByteDifference(a: Uint8Array, b: Uint8Array): string {
  const shared = Math.min(a.length, b.length);
  let at = 0;
  while (at < shared && a[at] === b[at]) at++;
  return `first difference at byte ${at} (${a.length} vs ${b.length} bytes)`;
}
