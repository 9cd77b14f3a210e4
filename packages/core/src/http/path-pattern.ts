/**
 * Path patterns for choosing requests (shadow `paths`, recorder include/exclude): `*` or `:name` matches one
 * segment, `**` any number of segments (also none), everything else literally. The query string is ignored.
 */
export type PathMatcher = (path: string) => boolean;

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

export function compilePathPattern(pattern: string): RegExp {
  const segments = pattern.split('/').slice(1);
  let source = '^';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') source += last ? '(?:/.*)?' : '(?:/[^/]+)*';
    else if (segment === '*' || segment.startsWith(':')) source += '/[^/]+';
    else source += `/${escapeRegExp(segment).replace(/\*/g, '[^/]*')}`;
  });
  if (pattern === '/') source = '^/';
  return new RegExp(`${source}/?$`);
}

/** One matcher for a list of patterns; an empty list matches nothing. */
export function compilePathPatterns(patterns: readonly string[]): PathMatcher {
  if (patterns.length === 0) return () => false;
  const regexes = patterns.map(compilePathPattern);
  return (url) => {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    for (const r of regexes) if (r.test(path)) return true;
    return false;
  };
}
