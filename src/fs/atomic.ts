// Writing files so that no reader, and no crash, ever sees half of one: the text goes to a temporary
// file beside the target, which then takes the target's place in one step.
import { chmodSync, linkSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const tempBeside = (target: string) => join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
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
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode); // the umask may have narrowed it
    renameSync(tmp, target);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/**
 * Creates `path` with `text` and `mode`, whole or not at all; fails with EEXIST when it exists, so a
 * file that must never be replaced (a private key) is never replaced.
 */
export function createAtomic(path: string, text: string, mode: number): void {
  const tmp = tempBeside(path);
  try {
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode);
    linkSync(tmp, path); // unlike rename, refuses an existing target
  } finally {
    removeQuietly(tmp);
  }
}
