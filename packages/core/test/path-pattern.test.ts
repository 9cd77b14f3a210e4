import { describe, expect, it } from 'vitest';
import { compilePathPatterns } from '../src/http/path-pattern.js';

describe('path patterns', () => {
  it.each<[string, string, boolean]>([
    ['/api/orders', '/api/orders', true],
    ['/api/orders', '/api/orders/', true],
    ['/api/orders', '/api/orders?x=1', true],
    ['/api/orders', '/api/orders/1', false],
    ['/api/*', '/api/orders', true],
    ['/api/*', '/api/orders/1', false],
    ['/api/:id/items', '/api/42/items', true],
    ['/api/**', '/api', true],
    ['/api/**', '/api/a/b/c', true],
    ['/api/**', '/apix', false],
    ['/a/**/z', '/a/z', true],
    ['/a/**/z', '/a/b/c/z', true],
    ['/files/*.json', '/files/x.json', true],
    ['/files/*.json', '/files/x.jsonp', false],
    ['/', '/', true],
    ['/', '/x', false],
    ['/a.b', '/aXb', false],
  ])('%s against %s → %s', (pattern, path, expected) => {
    expect(compilePathPatterns([pattern])(path)).toBe(expected);
  });

  it('an empty list matches nothing', () => {
    expect(compilePathPatterns([])('/')).toBe(false);
  });
});
