const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `flags` + `checkout` → `flags.checkout`; keys that are not identifiers get brackets: `flags["a.b"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!IDENTIFIER.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}
