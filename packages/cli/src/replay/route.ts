/**
 * The route of a recorded request, for per-route tables: the recording keeps the URL, not the pattern the
 * app matched, so ids are collapsed instead. A path segment that is a number or a UUID becomes `:id`; the
 * query string is dropped. `GET /users/42/orders/9f1c…?page=2` → `GET /users/:id/orders/:id`.
 */
const NUMBER = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function routeOf(method: string, url: string): string {
  let end = url.length;
  const query = url.indexOf('?');
  if (query !== -1) end = query;
  const hash = url.indexOf('#');
  if (hash !== -1 && hash < end) end = hash;
  const segments = url.slice(0, end).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (NUMBER.test(segment) || UUID.test(segment)) segments[i] = ':id';
  }
  return `${method} ${segments.join('/') || '/'}`;
}

/** `routeOf`, remembered for up to `max` distinct method + URL pairs (recordings repeat URLs a lot). */
export class RouteCache {
  readonly #max: number;
  readonly #routes = new Map<string, string>();

  constructor(max = 10_000) {
    this.#max = max;
  }

  of(method: string, url: string): string {
    const key = `${method} ${url}`;
    let route = this.#routes.get(key);
    if (route === undefined) {
      route = routeOf(method, url);
      if (this.#routes.size < this.#max) this.#routes.set(key, route);
    }
    return route;
  }
}
