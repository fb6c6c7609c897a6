// A host that mailrig has already provisioned, for end-to-end tests whose point is not provisioning
// (TLS, backups, check, faults, reboots): it boots in seconds from a cached image instead of spending
// minutes in apt. API and cache layout: TESTHOST.md ("Provisioned hosts").
//
//   const { host, ws, ca } = await startProvisionedHost({ release: 'trixie', name: 'backup-trixie' });
//   // ws: the test's own copy of the project that provisioned the image, pointed at host.address
//   // and converged there (`mailrig apply` ran); ca: the self-signed certificate the ports serve
//
// The image is one host per release, provisioned once with the configuration below and kept as its
// disk (the overlay's upper dir, laid read-only over the base image) together with the project
// directory that provisioned it (mailrig.yaml and .mailrig/). It is keyed by a hash of everything the
// provisioning depends on, so a change to mailrig provisions anew and an unchanged tree reuses it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { execa } from 'execa';
import { show, workspace, type Workspace } from './e2e.js';
import { PROJECT_ROOT, TEST_HASH, TEST_PASSWORD } from './fixtures.js';
import { ensureTestHostBase, startTestHost, type TestHost, type TestHostRelease } from './testhost.js';

/** What the image's host serves: one domain, alice (password below) and bob (TEST_PASSWORD), self-signed TLS. */
export const PROVISIONED = {
  domain: 'example.com',
  servername: 'mail.example.com',
  alice: 'alice@example.com',
  alicePassword: 'Alice-e2e-password-2026',
  bob: 'bob@example.com',
  bobPassword: TEST_PASSWORD,
} as const;

export const CONFIG_RELEASE: Record<TestHostRelease, 'debian-12' | 'debian-13'> = { bookworm: 'debian-12', trixie: 'debian-13' };

/** Bump when the way the image is made or saved changes in a way the hashed inputs do not show. */
const RECIPE_FORMAT = 1;

const CACHE = process.env.MAILRIG_TEST_CACHE ?? '/var/cache/mailrig-test';

export interface ProvisionedHost {
  host: TestHost;
  /** The test's own copy of the project, pointed at this host and converged on it. */
  ws: Workspace;
  /** PEM of the self-signed certificate every TLS port serves. */
  ca: string;
  /** How long the start took: booting from the image, and the apply that converged it. */
  timings: { bootMs: number; applyMs: number };
}

/** The init arguments and the edit that make the image's mailrig.yaml (hashed into the key). */
function initArgs(address: string, release: TestHostRelease): string[] {
  return ['init', '--non-interactive', '--domain', PROVISIONED.domain, '--ipv4', address, '--allow-private-addresses', '--ssh', `root@${address}`,
    '--release', CONFIG_RELEASE[release], '--mailbox', PROVISIONED.alice, '--password-stdin', '--acme', 'self-signed'];
}
function addBob(yaml: string): string {
  return yaml.replace('    aliases:', `      bob:\n        password_hash: "${TEST_HASH}"\n    aliases:`);
}

/**
 * The host's resolver asks what test hosts are given as their nameserver (this machine's, when it is
 * not loopback: see TESTHOST.md), without the root key: that server may answer for a private or
 * filtered tree whose answers the root key would call bogus. Without it, unbound would recurse from
 * the root servers, which a test bed may not reach, and the host (apt, Postfix) could resolve nothing.
 */
export function testBedResolver(yaml: string): string {
  const upstream = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
  if (upstream === undefined || /^127\.|^::1$/.test(upstream)) return yaml;
  return `${yaml.trimEnd()}\n\nresolver:\n  forwarders: ["${upstream}"]\n  root_trust_anchor: false\n`;
}

/**
 * Boots a host from the release's provisioned image (building the image first if the cache lacks
 * it), gives the test a copy of the project pointed at the host's address, and runs `mailrig apply`
 * there. The host has its own address, host keys and machine id, like any test host.
 */
export async function startProvisionedHost(opts: { release: TestHostRelease; name?: string }): Promise<ProvisionedHost> {
  const image = await ensureProvisionedImage(opts.release);
  const meta = JSON.parse(readFileSync(join(image, 'meta.json'), 'utf8')) as { address: string };
  const t0 = Date.now();
  const host = await startTestHost({ release: opts.release, ...(opts.name ? { name: opts.name } : {}), layer: join(image, 'upper') });
  const bootMs = Date.now() - t0;
  try {
    const ws = workspace(host);
    cpSync(join(image, 'project'), ws.dir, { recursive: true });
    const path = join(ws.dir, 'mailrig.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll(meta.address, host.address));
    const t1 = Date.now();
    const apply = await ws.mailrig(['apply', '--yes']);
    if (apply.code !== 0) throw new Error(`apply on a host from the provisioned image failed:\n${show(apply)}`);
    const applyMs = Date.now() - t1;
    const ca = readFileSync(join(ws.dir, '.mailrig/tls/selfsigned.crt'), 'utf8');
    return { host, ws, ca, timings: { bootMs, applyMs } };
  } catch (err) {
    await host.stop();
    throw err;
  }
}

/**
 * The directory of the release's provisioned image, built if missing: `upper/` (the host's disk over
 * the base image), `project/` (mailrig.yaml and .mailrig/) and `meta.json` (the address it had).
 */
export async function ensureProvisionedImage(release: TestHostRelease): Promise<string> {
  const base = await ensureTestHostBase(release);
  const dir = join(CACHE, 'provisioned', release);
  mkdirSync(dir, { recursive: true });
  const key = imageKey(release, basename(base));
  const target = join(dir, key);
  const meta = join(target, 'meta.json');
  // An image, once renamed into place, is complete and never changes: no lock to use it (builds of
  // other keys may hold the lock for minutes). Marked as asked for, so pruning spares it.
  if (existsSync(meta)) {
    const now = new Date();
    utimesSync(meta, now, now);
    return target;
  }
  const unlock = await lock(join(dir, '.build.lock'));
  try {
    if (!existsSync(meta)) await buildImage(release, dir, target);
    const now = new Date();
    utimesSync(meta, now, now); // asked for: not pruned within the hour
    pruneImages(dir, target);
  } finally {
    unlock();
  }
  return target;
}

/**
 * sha256 of what provisioning depends on: mailrig as built (dist/src, bin, templates, the locked
 * dependencies), the base image's stamp, and this recipe. Not testhost.sh: what its prepare writes
 * into a host (identity, keys, network) it writes again into every host started from the image.
 */
export function imageKey(release: TestHostRelease, baseStamp: string): string {
  const h = createHash('sha256');
  h.update(`format=${RECIPE_FORMAT} release=${release} base=${baseStamp}\n`);
  h.update(`${initArgs('ADDRESS', release).join(' ')}\n${testBedResolver(addBob('    aliases:'))}\n`);
  const files = [
    ...listFiles(join(PROJECT_ROOT, 'dist/src')),
    ...listFiles(join(PROJECT_ROOT, 'templates')),
    ...listFiles(join(PROJECT_ROOT, 'bin')),
    join(PROJECT_ROOT, 'package-lock.json'),
  ];
  for (const f of files) {
    h.update(`${relative(PROJECT_ROOT, f)}\0`);
    h.update(createHash('sha256').update(readFileSync(f)).digest());
  }
  return h.digest('hex');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Provisions a fresh host, powers it off, and moves its disk and project into place in one rename. */
async function buildImage(release: TestHostRelease, dir: string, target: string): Promise<void> {
  const build = mkdtempSync(join(dir, '.build.'));
  let host: TestHost | undefined;
  let ws: Workspace | undefined;
  try {
    host = await startTestHost({ release, name: `image-${release}` });
    ws = workspace(host);
    const init = await ws.mailrig(initArgs(host.address, release), { input: `${PROVISIONED.alicePassword}\n` });
    if (init.code !== 0) throw new Error(`init for the provisioned image failed:\n${show(init)}`);
    const path = join(ws.dir, 'mailrig.yaml');
    writeFileSync(path, testBedResolver(addBob(readFileSync(path, 'utf8'))));
    const setup = await ws.mailrig(['setup', '--non-interactive', '--yes', '--accept-new-host-key']);
    if (setup.code !== 0) throw new Error(`setup for the provisioned image failed:\n${show(setup)}`);
    // A clean power-off: every service has written its state, as on a VPS snapshot.
    await host.poweroff();
    // cp -a keeps owners, modes, xattrs (overlayfs' opaque dirs) and whiteouts (0:0 devices).
    const cp = await execa('cp', ['-a', join(host.workDir, 'upper'), join(build, 'upper')], { reject: false });
    if (cp.exitCode !== 0) throw new Error(`saving the provisioned disk failed: ${cp.stderr}`);
    // Host keys are made fresh for every host; an old one would make ssh-keygen ask to overwrite it.
    for (const f of readdirSync(join(build, 'upper/etc/ssh'))) {
      if (f.startsWith('ssh_host_')) rmSync(join(build, 'upper/etc/ssh', f));
    }
    mkdirSync(join(build, 'project'));
    cpSync(path, join(build, 'project/mailrig.yaml'));
    cpSync(join(ws.dir, '.mailrig'), join(build, 'project/.mailrig'), { recursive: true });
    writeFileSync(join(build, 'meta.json'), `${JSON.stringify({ release, address: host.address, built: new Date().toISOString() })}\n`);
    await execa('chmod', ['0755', build]);
    renameSync(build, target);
  } finally {
    await host?.stop();
    if (ws) rmSync(ws.dir, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
}

/** Other images of the release that no mounted overlay uses and nobody asked for within an hour; dead builds. */
function pruneImages(dir: string, current: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  const hourAgo = Date.now() - 3600_000;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (p === current || name === '.build.lock') continue;
    if (name.startsWith('.build.')) {
      if (statSync(p).mtimeMs < hourAgo) rmSync(p, { recursive: true, force: true });
      continue;
    }
    if (!/^[0-9a-f]{64}$/.test(name) || mounts.includes(`${p}/upper`)) continue;
    const meta = join(p, 'meta.json');
    if (existsSync(meta) && statSync(meta).mtimeMs > hourAgo) continue;
    rmSync(p, { recursive: true, force: true });
  }
}

/**
 * Takes an exclusive flock on `file` (other test processes wait) and resolves with its release.
 * The lock is held by a child `flock` whose command reads its stdin: closing that pipe (or this
 * process dying) releases it.
 */
function lock(file: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn('flock', [file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve(() => child.stdin?.end());
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!out.includes('locked')) reject(new Error(`flock ${file} exited with ${code}`));
    });
  });
}

/** The releases e2e files run on: both, or those MAILRIG_E2E_RELEASES names (comma-separated). */
export function releasesUnderTest(): TestHostRelease[] {
  const chosen = (process.env.MAILRIG_E2E_RELEASES ?? 'bookworm,trixie').split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of chosen) {
    if (r !== 'bookworm' && r !== 'trixie') throw new Error(`MAILRIG_E2E_RELEASES: unknown release ${r} (bookworm, trixie)`);
  }
  return chosen as TestHostRelease[];
}
