// The project lock: one mailrig at a time changes a project (mailrig.yaml and .mailrig/ beside it).
// A command that writes takes it before it reads anything, so its whole read-modify-write sees no
// other command's half; others wait for it. The lock is a file, .mailrig.lock beside mailrig.yaml,
// created whole (link of a flushed temporary file) and naming its holder: host, pid and the pid's
// start time, so that a holder that was killed is recognized (its pid is gone, or now belongs to a
// process that started later) and its lock taken over. Taking over happens under a second, short
// lock so that two waiters never both take it; that one is only ever held for a read and an unlink.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { createAtomic } from './atomic.js';

interface Holder {
  host: string;
  pid: number;
  /** The pid's start time (Linux: clock ticks since boot), '' where it cannot be read. */
  started: string;
  /** Tells two locks of the same process apart. */
  token: string;
}

export const lockPathFor = (configPath: string) => join(dirname(resolve(configPath)), '.mailrig.lock');

/** The start time of process `pid`, or '' where /proc does not tell; undefined when there is no such process here. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may contain anything.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    try {
      process.kill(pid, 0);
      return '';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? '' : undefined;
    }
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { host: h.host, pid: h.pid, started: String(h.started ?? ''), token: String(h.token ?? '') };
    return { host: '', pid: 0, started: '', token: '' }; // not ours to judge: treated as held
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { host: '', pid: 0, started: '', token: '' };
  }
}

/** Whether the holder is certainly gone: a process of this host that no longer runs. */
function isDead(h: Holder): boolean {
  if (h.host !== hostname() || h.pid <= 0) return false;
  const now = startTime(h.pid);
  return now === undefined || (h.started !== '' && now !== '' && now !== h.started);
}

const same = (a: Holder | undefined, b: Holder) => a !== undefined && a.pid === b.pid && a.token === b.token && a.host === b.host;

function tryCreate(path: string, me: Holder): boolean {
  try {
    createAtomic(path, `${JSON.stringify(me)}\n`, 0o644);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Removes the lock at `path` if it is still the dead `stale` one; false when another waiter is doing so. */
function takeOver(path: string, stale: Holder, me: Holder): boolean {
  const guard = `${path}.takeover`;
  if (!tryCreate(guard, me)) {
    const other = readHolder(guard);
    // A waiter killed in the instant it held the guard leaves it behind; it is as dead as any holder.
    if (other !== undefined && isDead(other)) unlinkQuietly(guard);
    return false;
  }
  try {
    if (same(readHolder(path), stale)) unlinkQuietly(path);
  } finally {
    unlinkQuietly(guard);
  }
  return true;
}

export interface LockOptions {
  /** How long to wait for another mailrig, in milliseconds (default: MAILRIG_LOCK_TIMEOUT seconds, else 120 s). */
  timeoutMs?: number;
  /** Where the one waiting message goes (default standard error). */
  say?: (text: string) => void;
}

const held = new Map<string, { count: number; me: Holder }>();

function defaultTimeout(): number {
  const s = Number(process.env.MAILRIG_LOCK_TIMEOUT);
  return Number.isFinite(s) && s >= 0 && process.env.MAILRIG_LOCK_TIMEOUT !== '' ? s * 1000 : 120_000;
}

/**
 * Takes the lock of the project whose config is `configPath`, waiting for another mailrig to finish;
 * returns its release. Taking it again in the same process only counts. RuntimeError after the timeout.
 */
export async function lockProject(configPath: string, opts: LockOptions = {}): Promise<() => void> {
  const path = lockPathFor(configPath);
  const mine = held.get(path);
  if (mine) {
    mine.count++;
    return once(() => release(path));
  }
  const me: Holder = { host: hostname(), pid: process.pid, started: startTime(process.pid) ?? '', token: randomBytes(8).toString('hex') };
  const timeout = opts.timeoutMs ?? defaultTimeout();
  const say = opts.say ?? ((t: string) => process.stderr.write(t));
  const deadline = Date.now() + timeout;
  let told = false;
  for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
    if (tryCreate(path, me)) break;
    const holder = readHolder(path);
    if (holder === undefined) continue; // released just now
    if (isDead(holder)) {
      takeOver(path, holder, me);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RuntimeError(
        `another mailrig is still working in this project (pid ${holder.pid || 'unknown'}${holder.host && holder.host !== me.host ? ` on ${holder.host}` : ''}); gave up after ${Math.round(timeout / 1000)} s`,
        `  its lock is ${path}; once no mailrig runs in this project any more, remove that file and try again`,
      );
    }
    if (!told) {
      say(`waiting for another mailrig in this project (pid ${holder.pid || 'unknown'})…\n`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, pause));
  }
  held.set(path, { count: 1, me });
  sweepTemporaries(configPath);
  return once(() => release(path));
}

const TEMPORARY = /^\..+\.(\d+)\.tmp$/;

/**
 * Removes the temporary files (fs/atomic.ts) of mailrig processes that were killed while writing:
 * beside mailrig.yaml only those of mailrig's own files, anywhere in .mailrig/.
 */
function sweepTemporaries(configPath: string): void {
  const dir = dirname(resolve(configPath));
  const ours = ['.mailrig.lock', '.mailrig.lock.takeover', basename(configPath), 'mailrig.schema.json'].map((n) => `.${n}.`);
  const sweep = (d: string, all: boolean) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (all || e.name === '.mailrig') sweep(join(d, e.name), true);
        continue;
      }
      const pid = Number(TEMPORARY.exec(e.name)?.[1]);
      if (!pid || pid === process.pid || (!all && !ours.some((o) => e.name.startsWith(o)))) continue;
      if (startTime(pid) === undefined) unlinkQuietly(join(d, e.name));
    }
  };
  sweep(dir, false);
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

function release(path: string): void {
  const mine = held.get(path);
  if (!mine) return;
  if (--mine.count > 0) return;
  held.delete(path);
  if (same(readHolder(path), mine.me)) unlinkQuietly(path);
}

/** Releases every lock this process holds (on the way out, whatever happened). */
export function releaseAll(): void {
  for (const path of [...held.keys()]) {
    const mine = held.get(path);
    if (mine) mine.count = 1;
    release(path);
  }
}

/** Runs `work` holding the project lock. */
export async function withProjectLock<T>(configPath: string, work: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const unlock = await lockProject(configPath, opts);
  try {
    return await work();
  } finally {
    unlock();
  }
}
