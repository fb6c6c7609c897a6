// A scratch project (mailrig.yaml and a key store) and the built CLI run in it as a user runs it:
// bin/mailrig.js in a child process (and, for tests that load a project many times, mailrig dns in
// this process). Every project made here is removed when the test process exits.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run as dns, type DnsOptions } from '../../src/cli/dns.js';
import { report } from '../../src/cli/main.js';
import { FIXTURES, PROJECT_ROOT, fixtureKeyDir } from './fixtures.js';

export const MAILRIG_BIN = join(PROJECT_ROOT, 'bin/mailrig.js');

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A directory under the system temporary directory, removed when the test process exits. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface Project {
  dir: string;
  config: string;
  keyDir: string;
  read: () => string;
}

/** A project: the init-style mailrig.yaml (example.com with alice, bücher.example) and the fixture keys. */
export function fixtureProject(): Project {
  const keyDir = fixtureKeyDir();
  const dir = dirname(keyDir);
  const config = join(dir, 'mailrig.yaml');
  copyFileSync(join(FIXTURES, 'edit/user-add.before.yaml'), config);
  return { dir, config, keyDir, read: () => readFileSync(config, 'utf8') };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

const childEnv = (env: Record<string, string> = {}) => ({ ...process.env, NO_COLOR: '1', ...env });

/** Runs mailrig in `dir` and waits for it. */
export function mailrig(dir: string, args: string[], input = '', env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [MAILRIG_BIN, ...args], { cwd: dir, input, encoding: 'utf8', env: childEnv(env), maxBuffer: 64 << 20 });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/**
 * `mailrig dns` on the project in `dir`, in this process: the command's own function and the CLI's
 * own error report (message and exit code), without starting node. For tests that load a project
 * many times; what the real process does with a broken project is proven by running it.
 */
export async function dnsInProcess(dir: string, opts: Omit<DnsOptions, 'config'> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  let code: number;
  try {
    code = await dns({ ...opts, config: join(dir, 'mailrig.yaml') }, { out: (t) => (out += t), columns: 100, interactive: false, confirm: async () => false });
  } catch (e) {
    code = report(e, (t) => (err += t));
  }
  return { code, out, err };
}

/** Starts mailrig in `dir`: `seen(text)` resolves once its standard error contains `text`, `done` when it exits. */
export function startMailrig(dir: string, args: string[], input: string | Buffer = '', env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAILRIG_BIN, ...args], { cwd: dir, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    for (const w of waiters.filter((x) => err.includes(x.text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stdin.on('error', () => {
    // it stopped reading early (as it should for too much input)
  });
  child.stdin.end(input);
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (err.includes(text)) return resolve();
      waiters.push({ text, resolve });
      void done.then((r) => reject(new Error(`mailrig exited (${r.code ?? r.signal}) without printing "${text}":\n${r.err}`)));
    });
  return { child, done, seen };
}
