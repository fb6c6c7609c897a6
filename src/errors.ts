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

// What the operating system says when a file cannot be used, in words; the operator's environment
// (permissions, a read-only or full disk) is exit 1, a path that cannot be right is bad input, exit 2.
const FS_FAILURES: Record<string, { words: string; exitCode: 1 | 2 }> = {
  EACCES: { words: 'permission denied', exitCode: 1 },
  EPERM: { words: 'operation not permitted', exitCode: 1 },
  EROFS: { words: 'read-only file system', exitCode: 1 },
  ENOSPC: { words: 'no space left on the device', exitCode: 1 },
  EDQUOT: { words: 'disk quota exceeded', exitCode: 1 },
  EIO: { words: 'input/output error', exitCode: 1 },
  EBUSY: { words: 'busy', exitCode: 1 },
  EMFILE: { words: 'too many open files', exitCode: 1 },
  ENFILE: { words: 'too many open files', exitCode: 1 },
  ETXTBSY: { words: 'busy', exitCode: 1 },
  EXDEV: { words: 'crosses file systems', exitCode: 1 },
  ENOENT: { words: 'no such file or directory', exitCode: 2 },
  ENOTDIR: { words: 'a part of the path is not a directory', exitCode: 2 },
  EISDIR: { words: 'is a directory', exitCode: 2 },
  EEXIST: { words: 'already exists', exitCode: 2 },
  ENAMETOOLONG: { words: 'name too long', exitCode: 2 },
  ELOOP: { words: 'too many symbolic links', exitCode: 2 },
  ENOTEMPTY: { words: 'directory not empty', exitCode: 2 },
};

const VERBS: Record<string, string> = {
  open: 'open', read: 'read', write: 'write', mkdir: 'create the directory', rename: 'replace', link: 'create',
  unlink: 'remove', rmdir: 'remove', chmod: 'change the mode of', scandir: 'list', stat: 'look at', lstat: 'look at',
  copyfile: 'copy', symlink: 'create', fsync: 'flush', access: 'use', realpath: 'resolve',
};

/** An error of the file system (or the YAML parser's resource limit) as a message and an exit code; undefined for anything else. */
export function describeOrdinaryFailure(e: unknown): { message: string; exitCode: 1 | 2 } | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException & { dest?: string };
  const known = err.code ? FS_FAILURES[err.code] : undefined;
  if (known && (err.path !== undefined || err.syscall !== undefined)) {
    const verb = (err.syscall && VERBS[err.syscall]) ?? 'use';
    const where = err.path ? `${err.path}${err.dest ? ` (to ${err.dest})` : ''}` : `a file (${err.syscall})`;
    return { message: `cannot ${verb} ${where}: ${known.words}`, exitCode: known.exitCode };
  }
  return undefined;
}
