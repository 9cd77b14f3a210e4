/**
 * Label matchers: checked when the source is built (a stray brace or an unquoted value would otherwise surface
 * as a Prometheus `parse error` at every analysis), and built for routes, whose patterns are full of regex
 * metacharacters (`/users/:id`, `/files/*`).
 */

const NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const OP = '(?:=~|!~|!=|=)';
/** A PromQL double-quoted string: any character but `"` and `\`, or a backslash escape. */
const STRING = '"(?:[^"\\\\\\n]|\\\\.)*"';
const MATCHER = `\\s*${NAME}\\s*${OP}\\s*${STRING}\\s*`;
const MATCHER_LIST = new RegExp(`^(?:${MATCHER})(?:,${MATCHER})*,?\\s*$`);

/**
 * Why `selector` is not a list of label matchers, or undefined when it is. An empty string is fine (no
 * matchers). Matchers go without braces: `job="checkout",namespace=~"prod|canary"`.
 */
export function selectorProblem(selector: string): string | undefined {
  if (selector.trim() === '') return undefined;
  if (/^\s*\{/.test(selector)) return 'give the label matchers without the braces, e.g. job="checkout"';
  if (!MATCHER_LIST.test(selector)) {
    return `must be comma-separated label matchers such as job="checkout",route=~"/api/.*" (name, one of = != =~ !~, a double-quoted value), got ${JSON.stringify(selector)}`;
  }
  if (/(?:^|,)\s*version\s*(?:=~|!~|!=|=)/.test(selector)) {
    return 'must not match on version: the source adds version="stable" / version="canary" itself';
  }
  return undefined;
}

/** Matchers with their trailing comma and blanks trimmed, ready to join. */
export function trimSelector(selector: string): string {
  return selector.trim().replace(/,\s*$/, '');
}

/** `s` as a regular expression matching exactly `s` (RE2 and JavaScript agree on these escapes). */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** `s` as a PromQL double-quoted string literal. */
export function promString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A matcher for any of `routes`, exactly (Prometheus anchors regex matchers at both ends). */
export function routeMatcher(routes: readonly string[]): string {
  return `route=~${promString(routes.map(escapeRegex).join('|'))}`;
}

/** Joins non-empty matcher lists. */
export function joinMatchers(...lists: readonly (string | undefined)[]): string {
  return lists
    .map((l) => (l === undefined ? '' : trimSelector(l)))
    .filter((l) => l !== '')
    .join(',');
}
