import { types } from 'node:util';

/**
 * What kind of object a value is, for the differ. JSON values never get here (typeof and Array.isArray
 * settle them); this is for what experiments pass: dates, maps, buffers, class instances. `node:util`
 * `types` checks work across realms (vm contexts, worker-built values), unlike `instanceof`.
 */
export const OBJECT = 0;
export const DATE = 1;
export const REGEXP = 2;
export const MAP = 3;
export const SET = 4;
/** Typed arrays, Buffers, DataViews and ArrayBuffers: compared byte for byte. */
export const BYTES = 5;
/** `new Number(1)`, `new String('a')`: compared by `valueOf()`. */
export const BOXED = 6;
export const ERROR = 7;
/** WeakMap, WeakSet, Promise, WeakRef: no inspectable content, so equal only when identical. */
export const OPAQUE = 8;
/** Any other object with a prototype of its own (class instances): constructor, then own enumerable fields. */
export const INSTANCE = 9;

export type ObjectKind = number;

/** The kind of a non-null, non-array object. */
export function objectKind(value: object): ObjectKind {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return OBJECT;
  if (types.isDate(value)) return DATE;
  if (types.isRegExp(value)) return REGEXP;
  if (types.isMap(value)) return MAP;
  if (types.isSet(value)) return SET;
  if (types.isArrayBufferView(value) || types.isAnyArrayBuffer(value)) return BYTES;
  if (types.isBoxedPrimitive(value)) return BOXED;
  if (types.isNativeError(value) || value instanceof Error) return ERROR;
  if (types.isWeakMap(value) || types.isWeakSet(value) || types.isPromise(value) || value instanceof WeakRef)
    return OPAQUE;
  // A plain object from another realm has its own realm's Object.prototype.
  if (Object.getPrototypeOf(proto) === null && proto.constructor?.name === 'Object') return OBJECT;
  return INSTANCE;
}

/** The bytes of a byte-ish value, as a Buffer view (no copy). */
export function bytesOf(value: object): Buffer {
  if (types.isAnyArrayBuffer(value)) return Buffer.from(value as ArrayBuffer);
  const view = value as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
