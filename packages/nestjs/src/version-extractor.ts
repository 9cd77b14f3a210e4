import { CanaryHttpBinding } from './http-binding.js';
import { checkFlag } from './metadata.js';

/** The part of a Nest application the extractor needs (`INestApplication` has it). */
export interface CanaryAppLike {
  get<T>(type: abstract new (...args: never[]) => T): T;
}

/**
 * A `VersioningType.CUSTOM` extractor returning `'canary'` or `'stable'`, the request's decision for
 * `flag`: two controllers of one path, `@Controller({ path, version: 'canary' })` and `version: 'stable'`,
 * then split the traffic, and their requests are labelled with the decision in metrics.
 *
 * ```ts
 * app.enableVersioning({ type: VersioningType.CUSTOM, extractor: canaryVersionExtractor(app, 'checkout') });
 * ```
 */
export function canaryVersionExtractor(app: CanaryAppLike, flag: string): (request: unknown) => string {
  checkFlag(flag, 'canaryVersionExtractor()');
  const binding = app.get(CanaryHttpBinding);
  return (request) => binding.extractVersion(request, flag);
}
