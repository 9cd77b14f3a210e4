import { type MatchState, PathMatcher, type PathPattern, parsePath } from '../diff/json-path.js';

/** The fixed value every redacted header, parameter, field or body becomes. Never derived from the original. */
export const REDACTED = '[REDACTED]';

/**
 * How field and parameter names are compared: case and `_`/`-` ignored, so one entry covers the spellings
 * APIs use for the same secret (`access_token`, `accessToken`, `Access-Token`). Redacting a little too much
 * is the safe way to be wrong.
 */
export function looseName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

export interface JsonRules {
  /** Loose names (see `looseName`) of fields redacted at any depth. */
  readonly names: ReadonlySet<string>;
  /** Compiled `$.…` paths; undefined when none are configured. */
  readonly paths: PathMatcher<true> | undefined;
}

/** Compiles the path list; every entry was checked by the config validation. */
export function compileJsonPaths(paths: readonly string[]): PathMatcher<true> | undefined {
  const patterns: PathPattern<true>[] = [];
  for (const text of paths) {
    const parsed = parsePath(text);
    if (parsed.ok) patterns.push({ segments: parsed.segments, tag: true });
  }
  return patterns.length === 0 ? undefined : new PathMatcher(patterns);
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return value !== null && typeof value === 'object';
}

function setField(node: Record<string, unknown>, key: string): void {
  // JSON.parse makes `__proto__` an own data property; plain assignment must never reach the prototype setter.
  if (key === '__proto__')
    Object.defineProperty(node, key, {
      value: REDACTED,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  else node[key] = REDACTED;
}

/**
 * Replaces, in place, the value of every field whose name is listed (at any depth) or whose path matches, with
 * the marker; a redacted object or array is replaced whole, not walked. Iterative, so a deeply nested body
 * cannot overflow the stack. Returns the (possibly new) root and whether anything changed.
 */
export function redactJson(root: unknown, rules: JsonRules): { value: unknown; changed: boolean } {
  const rootState = rules.paths?.root;
  if (rootState !== undefined && rootState.matches.length > 0) return { value: REDACTED, changed: true };
  if (!isContainer(root)) return { value: root, changed: false };
  let changed = false;
  const stack: { node: Container; state: MatchState<true> | undefined }[] = [
    { node: root, state: rootState?.dead ? undefined : rootState },
  ];
  const names = rules.names;
  while (stack.length > 0) {
    const { node, state } = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const next = state?.index(i);
        if (next !== undefined && next.matches.length > 0) {
          node[i] = REDACTED;
          changed = true;
          continue;
        }
        const child = node[i];
        if (isContainer(child)) stack.push({ node: child, state: next?.dead ? undefined : next });
      }
      continue;
    }
    for (const key of Object.keys(node)) {
      const next = state?.name(key);
      if (names.has(looseName(key)) || (next !== undefined && next.matches.length > 0)) {
        setField(node, key);
        changed = true;
        continue;
      }
      const child = node[key];
      if (isContainer(child)) stack.push({ node: child, state: next?.dead ? undefined : next });
    }
  }
  return { value: root, changed };
}
