// What the end-to-end tests share: running the mailrig command as an operator would (own HOME, the
// test host's key and known_hosts), real mail clients (nodemailer, imapflow), and DKIM verification
// (mailauth) against the records mailrig printed, served by a real knotd.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
export { dkimResults, mailauthResolver } from './dkim.js';
import { SERVICES } from '../../src/services/registry.js';
import { PROJECT_ROOT } from './fixtures.js';
import type { TestHost } from './testhost.js';

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** An operator's working directory for one host: mailrig.yaml, .mailrig/ and a HOME of its own. */
export interface Workspace {
  dir: string;
  host: TestHost;
  /** Runs `mailrig ARGS` in the workspace; host-facing commands get the test host's key and known_hosts. */
  mailrig(args: string[], opts?: { input?: string; hostFlags?: boolean }): Promise<CliResult>;
}

/**
 * The systemd units of the daemons mailrig runs on every host (not the optional ones), in the order it
 * starts them; for a daemon that runs on demand, its socket unit.
 */
export const DAEMON_UNITS: readonly string[] = SERVICES.flatMap((s) =>
  s.daemon && s.enabled === undefined && typeof s.daemon.unit === 'string' ? [s.daemon.onDemandWithSystemd?.socket ?? s.daemon.unit] : [],
);

/** The command names of those daemons' main processes (pgrep -x finds them), but for those that run on demand. */
export const DAEMON_PROCESSES: readonly string[] = SERVICES.flatMap((s) =>
  s.daemon && s.enabled === undefined && !s.daemon.onDemandWithSystemd ? [s.daemon.mainProcess] : [],
);

/** One result of `mailrig check --json`. */
export interface CheckResultJson {
  id: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
  unknown?: boolean;
}

/** The results in the output of `mailrig check --json`. */
export function checkResults(out: string): CheckResultJson[] {
  return (JSON.parse(out) as { results: CheckResultJson[] }).results;
}

/** The result with this id; the test fails naming the ids there are when it is missing. */
export function resultById(rs: CheckResultJson[], id: string): CheckResultJson {
  const r = rs.find((x) => x.id === id);
  assert.ok(r, `a result ${id} in ${rs.map((x) => x.id).join(', ')}`);
  return r;
}

const HOST_COMMANDS = new Set(['setup', 'plan', 'apply', 'upgrade']);

export function workspace(host: TestHost): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-e2e-'));
  return {
    dir,
    host,
    mailrig: (args, opts = {}) => {
      const hostFlags =
        (opts.hostFlags ?? HOST_COMMANDS.has(args[0] ?? ''))
          ? ['--identity', host.keyFile, '--known-hosts', host.knownHostsFile]
          : [];
      return runCli([...args, ...hostFlags], { cwd: dir, input: opts.input ?? '', env: { HOME: dir } });
    },
  };
}

export function runCli(args: string[], opts: { cwd: string; input: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/mailrig.js'), ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', SSH_AUTH_SOCK: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(opts.input);
  });
}

/** A failed command's output, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.out.slice(-4000)}\n--- stderr\n${r.err.slice(-4000)}`;
}

export interface Submission {
  host: string;
  port: 465 | 587;
  user: string;
  password: string;
  /** PEM the server's certificate must chain to (the self-signed one until ACME). */
  ca: string;
  servername: string;
}

export async function submit(s: Submission, message: { from: string; to: string; subject: string; text: string }) {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.port === 465,
    requireTLS: s.port === 587,
    auth: { user: s.user, pass: s.password },
    tls: { ca: s.ca, servername: s.servername },
  });
  try {
    return await transport.sendMail(message);
  } finally {
    transport.close();
  }
}

/** Waits until the mailbox's INBOX holds `count` messages and returns their sources. */
export async function fetchInbox(
  opts: { host: string; user: string; password: string; ca: string; servername: string },
  count: number,
  timeoutMs = 60_000,
): Promise<Buffer[]> {
  const client = new ImapFlow({
    host: opts.host,
    port: 993,
    secure: true,
    auth: { user: opts.user, pass: opts.password },
    tls: { ca: opts.ca, servername: opts.servername },
    logger: false,
  });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await client.status('INBOX', { messages: true });
      if ((status ? (status.messages ?? 0) : 0) >= count || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const lock = await client.getMailboxLock('INBOX');
    try {
      const sources: Buffer[] = [];
      for await (const msg of client.fetch('1:*', { source: true })) if (msg.source) sources.push(msg.source);
      return sources;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Hashes of everything that decides who may log in to the host over SSH. */
export async function sshAccess(host: TestHost): Promise<string> {
  const r = await host.exec('cd / && find etc/ssh/sshd_config etc/ssh/sshd_config.d root/.ssh home/*/.ssh -type f 2>/dev/null | sort | xargs sha256sum');
  return r.stdout;
}
