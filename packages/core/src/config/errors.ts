/** One problem in a config: where it is and which rule it breaks. */
export interface ConfigIssue {
  /** Dotted path from the config root, e.g. `flags.checkout.percentage` or `flags.checkout.rules[0].values`. */
  readonly path: string;
  readonly message: string;
}

/** Thrown by `createCanary` and every runtime change when the config is invalid. Lists every issue. */
export class CanaryConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`);
    super(
      `Invalid canary-kit config (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'}):\n${lines.join('\n')}`,
    );
    this.name = 'CanaryConfigError';
    this.issues = issues;
  }
}
