// The few error types mailrig throws on purpose. The CLI's one top-level handler turns them into
// messages and exit codes; anything else is reported as a bug.

/** Bad input from the operator: a flag, an argument, a file. Exit code 2, nothing changed. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

export interface ConfigProblem {
  /** Dotted path into mailrig.yaml, e.g. domains.example.com.mailboxes.alice.quota ('' for the file). */
  path: string;
  message: string;
  /** 1-based line (and column) in the YAML file, where it can be found. */
  line?: number;
  column?: number;
}

/** mailrig.yaml is unreadable or invalid: every problem found, at once. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  }

  format(): string {
    const lines = this.problems.map((p) => {
      const where = p.line === undefined ? this.file : `${this.file}:${p.line}${p.column ? `:${p.column}` : ''}`;
      return `  ${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
    });
    return `${this.message}\n${lines.join('\n')}`;
  }
}

/** Something failed at run time (host, network, a daemon's validator, a check). Exit code 1. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
  readonly exitCode = 1;
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The key store is unsafe or broken. Exit code 2: the operator must fix it before anything runs. */
export class KeyStoreError extends UsageError {
  override name = 'KeyStoreError';
}
