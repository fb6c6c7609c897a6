// A provisioned test host, as the end-to-end tests make one: a fresh Debian host in its own
// namespaces (test/support/testhost.ts), then `mailrig init` and `mailrig setup --yes` over SSH from
// an operator's workspace. Mailboxes: alice (password ALICE_PASSWORD) and bob (TEST_PASSWORD).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { show, submit, workspace, type Workspace } from '../../test/support/e2e.js';
import { TEST_HASH } from '../../test/support/fixtures.js';
import { cleanupStaleTestHosts, startTestHost, type TestHost, type TestHostRelease } from '../../test/support/testhost.js';

export const ALICE_PASSWORD = 'Alice-bench-password-2026';
export const MAIL_DOMAIN = 'example.com';
export const BOB_MAILDIR = '/var/vmail/example.com/bob';

export interface Provisioned {
  host: TestHost;
  ws: Workspace;
  ca: string;
  /** Seconds `mailrig setup` took (packages included). */
  setupSeconds: number;
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/**
 * Starts a host of `release` and provisions it; runs `use`, and stops the host afterwards whatever
 * happens (the test host's exit handlers cover a kill as well).
 */
export async function withProvisionedHost<T>(release: TestHostRelease, name: string, use: (p: Provisioned) => Promise<T>): Promise<T> {
  await cleanupStaleTestHosts();
  const host = await startTestHost({ release, name });
  const ws = workspace(host);
  try {
    log(`${name}: init and setup on ${host.address} (${release}); installing packages takes a few minutes`);
    const init = await ws.mailrig(
      ['init', '--non-interactive', '--domain', MAIL_DOMAIN, '--ipv4', host.address, '--allow-private-addresses', '--ssh', `root@${host.address}`,
        '--mailbox', `alice@${MAIL_DOMAIN}`, '--password-stdin', '--acme', 'self-signed', '--accept-new-host-key'],
      { input: `${ALICE_PASSWORD}\n`, hostFlags: true },
    );
    if (init.code !== 0) throw new Error(`mailrig init failed\n${show(init)}`);
    const path = join(ws.dir, 'mailrig.yaml');
    const yaml = readFileSync(path, 'utf8');
    if (!yaml.includes('    aliases:')) throw new Error('mailrig.yaml from init has no aliases block to add bob before');
    writeFileSync(path, yaml.replace('    aliases:', `      bob:\n        password_hash: "${TEST_HASH}"\n    aliases:`));
    const started = Date.now();
    const setup = await ws.mailrig(['setup', '--non-interactive', '--yes', '--accept-new-host-key']);
    if (setup.code !== 0) throw new Error(`mailrig setup failed\n${show(setup)}`);
    const setupSeconds = (Date.now() - started) / 1000;
    log(`${name}: provisioned in ${setupSeconds.toFixed(0)} s`);
    // The host now resolves through its own unbound, which may not reach the root servers from a
    // test bed: the archive's addresses, as this machine resolves them, let apt run again later.
    const archive = execFileSync('getent', ['ahostsv4', 'deb.debian.org'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => / STREAM /.test(l))
      .map((l) => `${l.split(/\s+/)[0]}\tdeb.debian.org`);
    if (archive.length) mustExec(await host.exec(`printf '%s\\n' ${archive.map((l) => `'${l}'`).join(' ')} >> /etc/hosts`), 'pinning the archive');
    const ca = readFileSync(join(ws.dir, '.mailrig/tls/selfsigned.crt'), 'utf8');
    return await use({ host, ws, ca, setupSeconds });
  } finally {
    await host.stop();
    rmSync(ws.dir, { recursive: true, force: true });
  }
}

/** Submits one message from alice to bob on 587 with AUTH. */
export async function sendOne(p: Provisioned, subject: string): Promise<void> {
  const sent = await submit(
    { host: p.host.address, port: 587, user: `alice@${MAIL_DOMAIN}`, password: ALICE_PASSWORD, ca: p.ca, servername: `mail.${MAIL_DOMAIN}` },
    { from: `alice@${MAIL_DOMAIN}`, to: `bob@${MAIL_DOMAIN}`, subject, text: 'One message, so that every daemon has done its work once.' },
  );
  if (sent.rejected.length) throw new Error(`submission rejected: ${sent.rejected.join(', ')}`);
}

/** Messages stored in a Maildir tree (every folder, new and cur). */
export async function countMessages(host: TestHost, maildir: string): Promise<number> {
  const r = await host.exec(`find ${maildir} -type f \\( -path '*/new/*' -o -path '*/cur/*' \\) 2>/dev/null | wc -l`);
  return Number(r.stdout.trim()) || 0;
}

/** Waits until the Maildir tree holds at least `count` messages; returns the count reached. */
export async function waitForMessages(host: TestHost, maildir: string, count: number, timeoutMs: number, pollMs = 250): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await countMessages(host, maildir);
    if (n >= count || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function mustExec(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
  return r.stdout;
}
