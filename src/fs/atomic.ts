// Writing files so that no reader, and no crash, ever sees half of one: the text goes to a temporary
// file beside the target and is flushed to disk, the file then takes the target's place in one step,
// and the directory is flushed so that the new name survives a power loss too.
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

const tempBeside = (target: string) => join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

// Crash testing: MAILRIG_CRASH_AT=N kills this process (SIGKILL, no clean-up) at the Nth step of
// writing — after a temporary file is flushed, and after it takes its place — so tests can stop a
// command at every point where a file changes on disk, one after another, without timing.
let steps = 0;
function step(): void {
  const at = process.env.MAILRIG_CRASH_AT;
  if (at === undefined) return;
  steps++;
  if (steps === Number(at)) process.kill(process.pid, 'SIGKILL');
}

/** A failure on the temporary file is reported as one on the file being written. */
function namingTarget(e: unknown, tmp: string, target: string): unknown {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (err.path === tmp) {
    err.path = target;
    err.syscall = 'write';
  }
  if (err.dest === target) delete err.dest;
  return e;
}

/** Writes `text` to a new file at `path` with `mode` and flushes it to disk; EEXIST when it exists. */
function writeFlushed(path: string, text: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    const data = Buffer.from(text, 'utf8');
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a directory, so that a name just created or replaced in it is on disk. */
export function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // a directory that cannot be opened for reading cannot be flushed either; the write stands
  }
  try {
    fsyncSync(fd);
  } catch {
    // some file systems do not flush directories
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces (or creates) `path` with `text`: readers see the old file or the new one, never half. An
 * existing file keeps its mode, a new one gets `defaultMode`; a symlink stays a symlink.
 */
export function writeAtomic(path: string, text: string, defaultMode = 0o644): void {
  let target = path;
  try {
    target = realpathSync(path);
  } catch {
    // a new file
  }
  let mode = defaultMode;
  try {
    mode = statSync(target).mode & 0o7777;
  } catch {
    // a new file keeps the default mode
  }
  const tmp = tempBeside(target);
  try {
    removeQuietly(tmp); // left by a process with this pid that was killed
    writeFlushed(tmp, text, mode);
    chmodSync(tmp, mode); // the umask may have narrowed it
    step();
    renameSync(tmp, target);
  } catch (e) {
    removeQuietly(tmp);
    throw namingTarget(e, tmp, target);
  }
  syncDir(dirname(target));
  step();
}

/**
 * Creates `path` with `text` and `mode`, whole or not at all; fails with EEXIST when it exists, so a
 * file that must never be replaced (a private key) is never replaced.
 */
export function createAtomic(path: string, text: string, mode: number): void {
  const tmp = tempBeside(path);
  try {
    removeQuietly(tmp);
    writeFlushed(tmp, text, mode);
    chmodSync(tmp, mode);
    step();
    linkSync(tmp, path); // unlike rename, refuses an existing target
  } catch (e) {
    throw namingTarget(e, tmp, path);
  } finally {
    removeQuietly(tmp);
  }
  syncDir(dirname(path));
  step();
}

/**
 * mkdir -p: creates `dir` and any missing parents, one at a time from the nearest one that exists.
 * (Node's recursive mkdir retries forever under a parent that refuses new names with ENOENT, as /proc does.)
 */
export function makeDirs(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if (statSync(d).isDirectory()) break;
      mkdirSync(d); // not a directory: fails with EEXIST, naming it
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw e;
    }
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      mkdirSync(d, mode === undefined ? undefined : { mode });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UsageError(`${d}: cannot create a directory there (${dirname(d)} takes no new entries)`);
      if (code !== 'EEXIST' || !statSync(d).isDirectory()) throw e;
    }
  }
}
