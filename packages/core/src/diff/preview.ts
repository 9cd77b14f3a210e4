import { BOXED, BYTES, bytesOf, DATE, ERROR, MAP, OBJECT, objectKind, REGEXP, SET } from './value-kind.js';

/**
 * A short, JSON-safe rendering of a value for a difference report. Primitives come back as themselves
 * (strings cut at `max` characters with "…"); everything else as a string of at most about `max`
 * characters, built without serializing more of the value than it shows, so a 10 MB subtree costs no more
 * than a small one. Non-JSON primitives (NaN, Infinity, bigint, symbol) come back as strings.
 */
export function previewValue(value: unknown, max: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > max ? `${value.slice(0, max)}…` : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
    case 'undefined':
      return value;
    case 'object':
      if (value === null) return null;
      break;
  }
  const out = new Preview(max);
  out.value(value, 0);
  return out.text();
}

/** A primitive as it appears inside a structure: strings quoted, bigints with `n`. */
function primitive(v: unknown, max: number): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v);
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint':
      return `${v}n`;
    case 'function':
      return `[Function${v.name ? ` ${v.name}` : ''}]`;
    default:
      return String(v);
  }
}

/** Nesting shown before "…"; deeper content is elided. */
const MAX_PREVIEW_DEPTH = 8;

class Preview {
  #text = '';
  readonly #max: number;
  readonly #seen: object[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  get full(): boolean {
    return this.#text.length > this.#max;
  }

  text(): string {
    return this.full ? `${this.#text.slice(0, this.#max)}…` : this.#text;
  }

  #put(s: string): void {
    this.#text += s;
  }

  value(v: unknown, depth: number): void {
    if (this.full) return;
    if (v === null || typeof v !== 'object') this.#put(primitive(v, this.#max));
    else if (this.#seen.includes(v)) this.#put('[Circular]');
    else if (depth >= MAX_PREVIEW_DEPTH) this.#put(Array.isArray(v) ? '[…]' : '{…}');
    else {
      this.#seen.push(v);
      try {
        this.#object(v, depth);
      } finally {
        this.#seen.pop();
      }
    }
  }

  #object(object: object, depth: number): void {
    if (Array.isArray(object)) {
      this.#list('[', object, ']', depth);
      return;
    }
    const kind = objectKind(object);
    const className = object.constructor?.name ?? 'Object';
    switch (kind) {
      case DATE: {
        const time = (object as Date).getTime();
        this.#put(`Date(${Number.isNaN(time) ? 'Invalid' : (object as Date).toISOString()})`);
        break;
      }
      case REGEXP:
        this.#put(String(object));
        break;
      case MAP:
        this.#put(`Map(${(object as Map<unknown, unknown>).size}) {`);
        this.#entries((object as Map<unknown, unknown>).entries(), depth);
        this.#put('}');
        break;
      case SET:
        this.#list(`Set(${(object as Set<unknown>).size}) {`, (object as Set<unknown>).values(), '}', depth);
        break;
      case BYTES: {
        const bytes = bytesOf(object);
        const shown = bytes.subarray(0, Math.ceil(this.#max / 3));
        const hex = shown.toString('hex').replace(/(..)(?!$)/g, '$1 ');
        this.#put(`${className}(${bytes.length}) <${hex}${shown.length < bytes.length ? ' …' : ''}>`);
        break;
      }
      case BOXED:
        this.#put(`${className}(`);
        this.value(object.valueOf(), depth + 1);
        this.#put(')');
        break;
      case ERROR:
        this.#put(`${(object as Error).name}: ${(object as Error).message}`);
        break;
      default:
        this.#fields(object, kind === OBJECT ? '' : `${className} `, depth);
    }
  }

  #fields(object: object, prefix: string, depth: number): void {
    this.#put(`${prefix}{`);
    let first = true;
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      if (this.full) return;
      if (!first) this.#put(',');
      first = false;
      this.#put(`${JSON.stringify(key)}:`);
      this.value((object as Record<string, unknown>)[key], depth + 1);
    }
    this.#put('}');
  }

  #list(open: string, items: Iterable<unknown>, close: string, depth: number): void {
    this.#put(open);
    let first = true;
    for (const item of items) {
      if (this.full) return;
      if (!first) this.#put(',');
      first = false;
      this.value(item, depth + 1);
    }
    this.#put(close);
  }

  #entries(entries: Iterable<[unknown, unknown]>, depth: number): void {
    let first = true;
    for (const [key, value] of entries) {
      if (this.full) return;
      if (!first) this.#put(',');
      first = false;
      this.value(key, depth + 1);
      this.#put(' => ');
      this.value(value, depth + 1);
    }
  }
}
