// How mailrig reaches a host: one interface, three implementations — SshTransport (ssh2, one
// connection per run), LocalTransport (this machine, for `server.ssh: local`) and MemoryTransport
// (an in-memory twin for unit tests). Also the shell snippets they share, so that all three
// write files and use sudo the same way, and the typed errors the CLI maps to exit code 1.
import { RuntimeError } from '../errors.js';

export interface ExecOptions {
  /** Bytes for the command's stdin; without it stdin is empty (closed at once, never a terminal). */
  stdin?: string | Buffer;
  /** Run as root through `sudo -n` (also implied by a transport created with useSudo). */
  sudo?: boolean;
  /** Kill the command after this long and reject with a TransportError. */
  timeoutMs?: number;
  /**
   * The command starts daemons (`service postfix start`, apt installing a service): give it
   * streams the daemons may keep. Without this, a daemon that inherits the command's stdout holds
   * it open and exec never returns (the channel closes only when every writer has gone). The
   * command's own output is still returned, collected through temporary files.
   */
  detachStreams?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + signal number if the command was killed by a signal. */
  code: number;
}

export interface FileToPut {
  /** Absolute path on the host. Missing parent directories are created (mode 0755, root). */
  path: string;
  content: string | Buffer;
  /** Octal permission bits, e.g. "0640". */
  mode: string;
  owner?: string;
  group?: string;
}

export interface Transport {
  /** Where commands run, for messages: "root@mail.example.com:22" or "local". */
  readonly target: string;
  /** Over SSH: the host key the server offered and known_hosts accepted, "<type> <base64>". */
  readonly hostKey?: string | undefined;
  /**
   * Runs cmd with the login user's POSIX shell. Never throws for a non-zero exit: callers judge
   * `code`. Commands that start daemons must pass detachStreams (see ExecOptions) or redirect the
   * daemons' streams themselves, or the call waits as long as the daemon lives.
   */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Writes one file atomically (temp file + rename) with its mode and ownership. */
  put(path: string, content: string | Buffer, mode: string, owner?: string, group?: string): Promise<void>;
  /** Writes many files through one command: what apply uses to fill its staging directory. */
  putMany(files: readonly FileToPut[]): Promise<void>;
  /** The file's bytes, or undefined if it does not exist. */
  get(path: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------ errors

/** The host could not be reached or a transport-level step failed. Exit code 1. */
export class TransportError extends RuntimeError {
  override name = 'TransportError';
}

/** The host presented a key other than the one recorded in known_hosts: possibly an attack. */
export class HostKeyChangedError extends TransportError {
  override name = 'HostKeyChangedError';
  constructor(
    readonly host: string,
    readonly knownFingerprints: string[],
    readonly offeredFingerprint: string,
    readonly knownHostsFile: string,
  ) {
    super(
      `the host key of ${host} has CHANGED: ${knownHostsFile} has ${knownFingerprints.join(', ')}, ` +
        `the server offered ${offeredFingerprint}. Refusing to connect. If the server was reinstalled, ` +
        `remove the old key with: ssh-keygen -f ${knownHostsFile} -R '${host}'`,
    );
  }
}

/** The host's key is not in known_hosts and nobody (prompt or --accept-new-host-key) accepted it. */
export class HostKeyUnknownError extends TransportError {
  override name = 'HostKeyUnknownError';
  constructor(
    readonly host: string,
    readonly offeredFingerprint: string,
  ) {
    super(
      `the host key of ${host} (${offeredFingerprint}) is not known and was not accepted; ` +
        `check it and rerun with --accept-new-host-key, or add it to known_hosts`,
    );
  }
}

/** The login user is not root and sudo wants a password, which mailrig never types. */
export class SudoPasswordError extends TransportError {
  override name = 'SudoPasswordError';
  constructor(
    readonly user: string,
    readonly host: string,
    detail?: string,
  ) {
    super(`user ${user} needs passwordless sudo (NOPASSWD) on ${host}`, detail);
  }
}

/** A command mailrig itself composed (a file write, a read) failed on the host. */
export class HostCommandError extends TransportError {
  override name = 'HostCommandError';
  constructor(
    readonly host: string,
    readonly what: string,
    readonly result: ExecResult,
  ) {
    super(`${what} on ${host} failed (exit ${result.code})`, lastLines(result.stderr || result.stdout));
  }
}

// ------------------------------------------------------------------------------------ targets

export interface SshTarget {
  user?: string;
  /** Host name, address or ~/.ssh/config alias; IPv6 without brackets. */
  host: string;
  port?: number;
}

/** Parses `[user@]host[:port]`, with IPv6 as `[2001:db8::1]:2222` (a bare IPv6 has no port). */
export function parseTarget(text: string): SshTarget {
  const bad = (why: string) => new TransportError(`"${text}" is not a valid SSH target: ${why} (try user@host[:port])`);
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  if (user !== undefined && !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(user)) throw bad('bad user name');
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    host = rest; // bare IPv6: every colon belongs to the address
  } else {
    const colon = rest.indexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
  }
  if (!host || /[\s/@[\]]/.test(host)) throw bad('bad host');
  const target: SshTarget = { host };
  if (user !== undefined) target.user = user;
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw bad(`bad port "${portText}"`);
    target.port = port;
  }
  return target;
}

/** `user@host:port` for messages, bracketing IPv6. */
export function formatTarget(user: string, host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${user}@${h}${port === 22 ? '' : `:${port}`}`;
}

// ------------------------------------------------------------------------------------ shell

/** Quotes one word for /bin/sh. */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Wraps cmd in `sudo -n` (never prompts: a password prompt would hang a non-interactive run). */
export function sudoCommand(cmd: string): string {
  return `sudo -n -- /bin/sh -c ${shQuote(cmd)}`;
}

/** True when a failed result is sudo refusing to run without a password. */
export function isSudoPasswordFailure(result: ExecResult): boolean {
  return result.code !== 0 && /^sudo: (a password is required|a terminal is required|.*may not run sudo|.*not in the sudoers)/m.test(result.stderr);
}

/** See ExecOptions.detachStreams: daemons inherit temp files instead of the command's pipes. */
export function detachStreams(cmd: string): string {
  return [
    'o=$(mktemp) && e=$(mktemp) || exit 125',
    `( ${cmd}\n) </dev/null >"$o" 2>"$e"`,
    'rc=$?; cat "$o"; cat "$e" >&2; rm -f "$o" "$e"; exit $rc',
  ].join('\n');
}

const MODE = /^0?[0-7]{3,4}$/;
const ACCOUNT = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function validateFile(file: FileToPut): void {
  if (!file.path.startsWith('/') || /[\0\n]/.test(file.path)) throw new TransportError(`bad path ${JSON.stringify(file.path)}`);
  if (!MODE.test(file.mode)) throw new TransportError(`bad mode "${file.mode}" for ${file.path} (expected e.g. "0640")`);
  for (const who of [file.owner, file.group]) {
    if (who !== undefined && !ACCOUNT.test(who)) throw new TransportError(`bad owner or group "${who}" for ${file.path}`);
  }
}

// Writes each file to a temp name beside it, sets mode and owner, then renames: a reader never
// sees a half-written file or one with the wrong permissions. Contents travel as base64 heredocs
// (the delimiter contains "_", which base64 never does). On failure, names the file it was on.
const PUT_PRELUDE = `set -e
umask 077
cur= t=
trap 'rc=$?; [ -z "$t" ] || rm -f -- "$t"; [ $rc = 0 ] || echo "mailrig: failed writing $cur" >&2' EXIT
put() {
  cur=$1; d=$(dirname -- "$1")
  [ -d "$d" ] || (umask 022; mkdir -p -- "$d")
  t="$d/.mailrig-put.$$"
  base64 -d >"$t"
  chmod "$2" "$t"
  [ -z "$3$4" ] || chown "$3\${4:+:$4}" "$t"
  mv -f -- "$t" "$1"; t=
}
`;

/** A /bin/sh script (run with `sh -s`, script on stdin) that writes every file. */
export function putScript(files: readonly FileToPut[]): string {
  const parts = [PUT_PRELUDE];
  for (const f of files) {
    validateFile(f);
    const b64 = Buffer.from(f.content).toString('base64').replace(/.{1,76}/g, '$&\n');
    parts.push(`put ${shQuote(f.path)} ${f.mode} ${shQuote(f.owner ?? '')} ${shQuote(f.group ?? '')} <<'MAILRIG_EOF'\n${b64}MAILRIG_EOF\n`);
  }
  return parts.join('');
}

/** Command printing a file's bytes; exit 3 = no such file. */
export function getCommand(path: string): string {
  return `[ -e ${shQuote(path)} ] || exit 3; exec cat -- ${shQuote(path)}`;
}
export const GET_MISSING_CODE = 3;

export function lastLines(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

// ------------------------------------------------------------------------------------ shared base

export interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number;
}

/**
 * What SSH and local transports share: sudo, detached streams, and file transfer as shell
 * commands. Subclasses only run one command line and return its raw output.
 */
export abstract class ShellTransport implements Transport {
  constructor(
    readonly target: string,
    /** The login user; commands run as root through sudo when useSudo (or opts.sudo) says so. */
    readonly user: string,
    readonly host: string,
    readonly useSudo: boolean,
  ) {}

  protected abstract runRaw(command: string, stdin: string | Buffer | undefined, timeoutMs: number | undefined, shown: string): Promise<RawResult>;
  abstract close(): Promise<void>;

  async exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return decode(await this.execRaw(cmd, opts));
  }

  async put(path: string, content: string | Buffer, mode: string, owner?: string, group?: string): Promise<void> {
    await this.putMany([{ path, content, mode, ...(owner ? { owner } : {}), ...(group ? { group } : {}) }]);
  }

  async putMany(files: readonly FileToPut[]): Promise<void> {
    if (files.length === 0) return;
    const r = await this.execRaw('/bin/sh -s', { stdin: putScript(files) });
    if (r.code !== 0) throw new HostCommandError(this.target, `writing ${files.length} file(s)`, decode(r));
  }

  async get(path: string): Promise<Buffer | undefined> {
    const r = await this.execRaw(getCommand(path), {});
    if (r.code === GET_MISSING_CODE) return undefined;
    if (r.code !== 0) throw new HostCommandError(this.target, `reading ${path}`, decode(r));
    return r.stdout;
  }

  /** Fails early, before anything changes, if sudo would ask for a password or is missing. */
  async checkSudo(): Promise<void> {
    const r = await this.exec('true', { sudo: true }); // throws SudoPasswordError if it wants a password
    if (r.code !== 0) throw new TransportError(`sudo does not work for ${this.user} on ${this.host}`, lastLines(r.stderr, 3));
  }

  protected async execRaw(cmd: string, opts: ExecOptions): Promise<RawResult> {
    let command = opts.detachStreams ? detachStreams(cmd) : cmd;
    const sudo = (opts.sudo ?? this.useSudo) && this.user !== 'root';
    if (sudo) command = sudoCommand(command);
    const result = await this.runRaw(command, opts.stdin, opts.timeoutMs, cmd);
    if (sudo && isSudoPasswordFailure(decode(result))) {
      throw new SudoPasswordError(this.user, this.host, lastLines(result.stderr.toString('utf8'), 3));
    }
    return result;
  }
}

function decode(r: RawResult): ExecResult {
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), code: r.code };
}
