// What a PromQL expression asks of the metrics: the series names it selects, the label matchers on each, and
// the labels its `by (...)`, `without (...)`, `on (...)` and `ignoring (...)` clauses name. Not a full parser:
// a tokenizer that knows enough of the grammar to tell a metric name from a function, an aggregation, a keyword
// or a label name, and that skips strings, numbers, durations, range/subquery brackets and Grafana variables.

export interface Matcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  /** The metric name; `undefined` for a bare `{__name__=~"..."}` selector. */
  readonly name: string | undefined;
  readonly matchers: readonly Matcher[];
}

export interface Grouping {
  readonly keyword: 'by' | 'without' | 'on' | 'ignoring' | 'group_left' | 'group_right';
  readonly labels: readonly string[];
  /**
   * For `by`/`without`: the selectors inside the aggregation the clause belongs to (each must carry the labels).
   * For the vector-matching keywords: every selector of the expression (the labels are on one side or both).
   */
  readonly selectors: readonly Selector[];
}

export interface QueryUse {
  readonly selectors: readonly Selector[];
  readonly groupings: readonly Grouping[];
}

export const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);

interface Token {
  readonly kind: 'ident' | 'punct' | 'string' | 'op';
  readonly text: string;
  readonly at: number;
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER =
  /(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?/y;
/** `$var`, `${var}`, `${var:format}`, `[[var]]`: Grafana's variables, which stand for values, never for names. */
const GRAFANA_VAR = /\$(?:\{[^}]*\}|[a-zA-Z_][a-zA-Z0-9_]*)|\[\[[^\]]*\]\]/y;
const OPERATOR = /=~|!~|!=|==|<=|>=|[-+*/%^<>=]/y;
const PUNCT = /[(){},@]/y;

function fail(expr: string, at: number, message: string): never {
  throw new Error(`PromQL at ${at}: ${message}\n  ${expr}\n  ${' '.repeat(at)}^`);
}

function matchAt(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(text)?.[0];
}

function readString(expr: string, at: number): { value: string; end: number } {
  const quote = expr[at]!;
  let value = '';
  let i = at + 1;
  while (i < expr.length && expr[i] !== quote) {
    if (expr[i] === '\\' && quote !== '`') {
      const next = expr[i + 1];
      value += next === 'n' ? '\n' : next === 't' ? '\t' : (next ?? '');
      i += 2;
    } else value += expr[i++];
  }
  if (i >= expr.length) fail(expr, at, 'unterminated string');
  return { value, end: i + 1 };
}

/**
 * Lexemes read by one pattern each, tried in order. A Grafana variable comes first: `[[var]]` is one, not a range;
 * where a string is expected it stays a (non-literal) string, elsewhere it is a value. Numbers and durations name
 * nothing and are skipped.
 */
const LEXEMES: readonly (readonly [RegExp, Token['kind'] | 'skip'])[] = [
  [GRAFANA_VAR, 'string'],
  [NUMBER, 'skip'],
  [IDENT, 'ident'],
  [PUNCT, 'punct'],
  [OPERATOR, 'op'],
];

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  next: while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const { value, end } = readString(expr, i);
      tokens.push({ kind: 'string', text: value, at: i });
      i = end;
      continue;
    }
    for (const [pattern, kind] of LEXEMES) {
      const lexeme = matchAt(pattern, expr, i);
      if (lexeme === undefined) continue;
      if (kind !== 'skip') tokens.push({ kind, text: lexeme, at: i });
      i += lexeme.length;
      continue next;
    }
    if (c === '[') {
      // A range or subquery: durations, `:` and Grafana's interval variables, never a name.
      const close = expr.indexOf(']', i);
      if (close < 0) fail(expr, i, 'unclosed [');
      i = close + 1;
      continue;
    }
    fail(expr, i, `unexpected ${JSON.stringify(c)}`);
  }
  return tokens;
}

const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;

/** The index of the `)` closing the `(` at `open`. */
function closing(tokens: readonly Token[], open: number, expr: string): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')') && --depth === 0) return i;
  }
  return fail(expr, tokens[open]!.at, 'unclosed (');
}

/** `( a, b, c )` at `open` → the label names and the index after `)`. */
function labelList(tokens: readonly Token[], open: number, expr: string): { labels: string[]; end: number } {
  const end = closing(tokens, open, expr);
  const labels: string[] = [];
  for (let i = open + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'ident' || t.kind === 'string') labels.push(t.text);
    else if (!isPunct(t, ',')) fail(expr, t.at, `expected a label name, got ${JSON.stringify(t.text)}`);
  }
  return { labels, end: end + 1 };
}

/** `{ a="x", b=~"y" }` at `open` → the matchers and the index after `}`. */
function matcherList(
  tokens: readonly Token[],
  open: number,
  expr: string,
): { matchers: Matcher[]; end: number } {
  const matchers: Matcher[] = [];
  let i = open + 1;
  while (!isPunct(tokens[i], '}')) {
    const label = tokens[i];
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (label === undefined) return fail(expr, tokens[open]!.at, 'unclosed {');
    if (label.kind !== 'ident' || op?.kind !== 'op' || value?.kind !== 'string')
      fail(expr, label.at, 'expected label="value"');
    if (!['=', '!=', '=~', '!~'].includes(op.text)) fail(expr, op.at, `bad matcher operator ${op.text}`);
    matchers.push({ label: label.text, op: op.text as Matcher['op'], value: value.text });
    i += 3;
    if (isPunct(tokens[i], ',')) i++;
  }
  return { matchers, end: i + 1 };
}

/** What `expr` selects and groups by. Throws, naming the position, on text it cannot read. */
export function analyzeQuery(expr: string): QueryUse {
  const tokens = tokenize(expr);
  const open: Token[] = [];
  for (const t of tokens) {
    if (isPunct(t, '(')) open.push(t);
    else if (isPunct(t, ')') && open.pop() === undefined) fail(expr, t.at, 'unmatched )');
  }
  if (open.length > 0) fail(expr, open.at(-1)!.at, 'unclosed (');
  const selectors: Selector[] = [];
  /** Selector index ranges per token position, to attach `by` clauses to their aggregation's selectors. */
  const selectorAt: number[] = [];
  const pending: { keyword: Grouping['keyword']; labels: string[]; from: number; to: number }[] = [];

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '{') {
      // a bare selector: `{__name__="x"}`
      const { matchers, end } = matcherList(tokens, i, expr);
      const named = matchers.find((m) => m.label === '__name__' && m.op === '=');
      selectorAt.push(i);
      selectors.push({ name: named?.value, matchers });
      i = end - 1;
      continue;
    }
    if (t.kind !== 'ident') continue;
    const next = tokens[i + 1];
    if (GROUPING_KEYWORDS.has(t.text)) {
      if (!isPunct(next, '(')) {
        if (t.text === 'group_left' || t.text === 'group_right') continue; // without a label list
        fail(expr, t.at, `${t.text} needs a label list`);
      }
      const { labels, end } = labelList(tokens, i + 1, expr);
      const keyword = t.text as Grouping['keyword'];
      if (keyword === 'by' || keyword === 'without') {
        // `sum by (x) (arg)` or `sum (arg) by (x)`: find the aggregation's argument.
        let from: number;
        let to: number;
        if (
          isPunct(tokens[end], '(') &&
          tokens[i - 1]?.kind === 'ident' &&
          AGGREGATIONS.has(tokens[i - 1]!.text)
        ) {
          from = end;
          to = closing(tokens, end, expr);
        } else {
          // the argument ends just before `by`; walk back to its `(`
          to = i - 1;
          if (!isPunct(tokens[to], ')')) fail(expr, t.at, `${t.text} must follow or precede an aggregation`);
          let depth = 0;
          from = to;
          for (; from >= 0; from--) {
            if (isPunct(tokens[from], ')')) depth++;
            else if (isPunct(tokens[from], '(') && --depth === 0) break;
          }
          const aggregation = tokens[from - 1];
          if (aggregation?.kind !== 'ident' || !AGGREGATIONS.has(aggregation.text))
            fail(expr, t.at, `${t.text} must belong to an aggregation`);
        }
        pending.push({ keyword, labels, from, to });
      } else pending.push({ keyword, labels, from: 0, to: tokens.length });
      i = end - 1;
      continue;
    }
    if (isPunct(next, '(')) continue; // a function or an aggregation
    if (AGGREGATIONS.has(t.text) && next?.kind === 'ident' && (next.text === 'by' || next.text === 'without'))
      continue;
    if (KEYWORDS.has(t.text.toLowerCase())) continue;
    // A metric name, perhaps with matchers.
    let matchers: Matcher[] = [];
    if (isPunct(next, '{')) {
      const list = matcherList(tokens, i + 1, expr);
      matchers = list.matchers;
      selectorAt.push(i);
      selectors.push({ name: t.text, matchers });
      i = list.end - 1;
    } else {
      selectorAt.push(i);
      selectors.push({ name: t.text, matchers });
    }
  }

  const groupings: Grouping[] = pending.map((p) => ({
    keyword: p.keyword,
    labels: p.labels,
    selectors: selectors.filter((_, k) => selectorAt[k]! > p.from && selectorAt[k]! < p.to),
  }));
  return { selectors, groupings };
}

/** `label_values(metric{...}, label)` / `label_values(label)` in a Grafana variable → the selector part and label. */
export function parseLabelValues(query: string): { expr: string | undefined; label: string } {
  const m = /^\s*label_values\(\s*(?:(.*),)?\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { expr: m[1], label: m[2]! };
}
