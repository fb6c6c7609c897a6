// A fresh Debian host for end-to-end tests: its own root filesystem (copy-on-write over a cached
// debootstrap base), network namespace and address, pid/mount/uts namespaces, and sshd reachable
// with a per-host test key. mailrig provisions it over SSH as it would a VPS. API: TESTHOST.md.
//
//   const host = await startTestHost({ release: 'bookworm' });
//   // ssh root@host.address with host.keyFile, known hosts in host.knownHostsFile
//   await host.exec('cat /etc/debian_version');   // inside the host, not over SSH
//   await host.stop();                             // leaves nothing behind
//
// Root-only work (mounts, namespaces, iptables) lives in testhost.sh so that stop can also run
// synchronously from an exit handler.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export type TestHostRelease = 'bookworm' | 'trixie';

export interface TestHostOptions {
  release: TestHostRelease;
  /** Host name inside the host and suffix of its network namespace (mailrig-<name>). */
  name?: string;
  /** Milliseconds to wait for sshd to answer (default 30 000). */
  startTimeoutMs?: number;
}

export interface TestHostExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestHost {
  readonly name: string;
  readonly release: TestHostRelease;
  /** IPv4 address of the host (inside its namespace), reachable from this machine. */
  readonly address: string;
  /** This machine's address on the host's link: how the host reaches services run by the test. */
  readonly gateway: string;
  readonly sshPort: 22;
  readonly user: 'root';
  /** Private key (ed25519, no passphrase) accepted for root, deploy and nosudo. */
  readonly keyFile: string;
  /** known_hosts file with the host's fresh keys under its address, for strict checking. */
  readonly knownHostsFile: string;
  /** SHA256:… of the host's ed25519 key (the one ssh2 and OpenSSH negotiate first). */
  readonly hostKeyFingerprint: string;
  /** Network namespace (ip netns) the host lives in: `ip netns exec` it to act as a neighbour. */
  readonly netns: string;
  /** This machine's end of the host's veth pair. */
  readonly veth: string;
  /** The host's temporary directory on this machine (overlay, keys, state): gone after stop(). */
  readonly workDir: string;
  /** Runs cmd with /bin/sh inside the host as root, directly (nsenter), not over SSH. */
  exec(cmd: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<TestHostExecResult>;
  /** Kills everything in the host and removes every trace of it. Idempotent. */
  stop(): Promise<void>;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'testhost.sh');
// Compiled to dist/test/support: the script is not copied by tsc, so fall back to the source tree.
const SCRIPT_PATH = SCRIPT.includes('/dist/test/') ? SCRIPT.replace('/dist/test/', '/test/') : SCRIPT;
const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Builds (or reuses) the cached base root filesystem of a release; returns its path. */
export async function ensureTestHostBase(release: TestHostRelease): Promise<string> {
  assertRoot();
  const r = await execa('bash', [SCRIPT_PATH, 'base', release], { reject: false, stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`test host base for ${release} failed:\n${tail(r.stderr)}`);
  return r.stdout.trim();
}

/** Removes hosts, namespaces, mounts and iptables rules left by earlier runs that crashed. */
export async function cleanupStaleTestHosts(): Promise<void> {
  assertRoot();
  const r = await execa('bash', [SCRIPT_PATH, 'cleanup-stale'], { reject: false });
  if (r.exitCode !== 0) throw new Error(`cleanup of stale test hosts failed:\n${tail(r.stderr)}`);
}

export async function startTestHost(opts: TestHostOptions): Promise<TestHost> {
  assertRoot();
  const name = opts.name ?? `${opts.release}-${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync('/tmp/mailrig-host-');
  const handle: LiveHost = { dir, init: undefined };
  live.add(handle);
  installExitHandlers();
  try {
    const prepared = await execa('bash', [SCRIPT_PATH, 'prepare', dir, opts.release, name], {
      reject: false,
      env: { MAILRIG_TESTHOST_OWNER: String(process.pid) },
    });
    if (prepared.exitCode !== 0) throw new Error(`preparing test host ${name} failed:\n${tail(prepared.stderr)}`);
    const info = parseKeyValues(prepared.stdout);
    handle.init = startInit(dir, info.NETNS, info.ROOT, name);
    const initPid = await innerInitPid(handle.init);
    await waitForSsh(info.ADDRESS, handle.init, opts.startTimeoutMs ?? 30_000, dir);
    return makeHost(handle, { name, release: opts.release, info, initPid });
  } catch (err) {
    await stopLive(handle);
    throw err;
  }
}

interface LiveHost {
  dir: string;
  init: ChildProcess | undefined;
}

/** Hosts of this process not yet stopped: the exit handler tears them down if the test could not. */
const live = new Set<LiveHost>();

function makeHost(
  handle: LiveHost,
  p: { name: string; release: TestHostRelease; info: HostInfo; initPid: number },
): TestHost {
  const { info } = p;
  return {
    name: p.name,
    release: p.release,
    address: info.ADDRESS,
    gateway: info.GATEWAY,
    sshPort: 22,
    user: 'root',
    keyFile: info.KEY_FILE,
    knownHostsFile: info.KNOWN_HOSTS,
    hostKeyFingerprint: info.FINGERPRINT,
    netns: info.NETNS,
    veth: info.VETH,
    workDir: info.WORK_DIR,
    async exec(cmd, execOpts = {}) {
      // -r/-w: the init's root (the overlay) and cwd; env -i: nothing of the test runner's environment.
      const args = ['-t', String(p.initPid), '-m', '-u', '-n', '-p', '-r', '-w', '/usr/bin/env', '-i',
        `PATH=${GUEST_PATH}`, 'HOME=/root', 'LC_ALL=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', '/bin/sh', '-c', cmd];
      const r = await execa('nsenter', args, {
        reject: false,
        input: execOpts.stdin ?? '',
        timeout: execOpts.timeoutMs,
        stripFinalNewline: false,
      });
      return { stdout: String(r.stdout), stderr: String(r.stderr), code: r.exitCode ?? -1 };
    },
    stop: () => stopLive(handle),
  };
}

const INFO_KEYS = ['ADDRESS', 'GATEWAY', 'NETNS', 'VETH', 'WORK_DIR', 'ROOT', 'KEY_FILE', 'KNOWN_HOSTS', 'FINGERPRINT'] as const;
type HostInfo = Record<(typeof INFO_KEYS)[number], string>;

/** KEY=value lines printed by `testhost.sh prepare`. */
function parseKeyValues(text: string): HostInfo {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  for (const key of INFO_KEYS) {
    if (!out[key]) throw new Error(`testhost.sh prepare did not report ${key}:\n${text}`);
  }
  return out as HostInfo;
}

// The host's PID 1: a shell that starts sshd and reaps every orphan (daemons started over SSH
// with `service X start` end up as its children), so they stay alive and leave no zombies.
const INIT = 'trap \'kill "$sshd"; exit 0\' TERM; /usr/sbin/sshd -D -e 2>>/var/log/sshd.log & sshd=$!; wait';

// Runs in the new mount/uts/pid namespaces before chroot: the mounts a booted host has. They live
// in the host's private mount namespace and vanish with it.
const SETUP = [
  'set -e',
  'root=$1; name=$2; init=$3',
  'mount -t proc proc "$root/proc"',
  'mount --rbind /dev "$root/dev"',
  'mount -t sysfs sysfs "$root/sys" 2>/dev/null || true',
  'mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"',
  'mkdir -p "$root/run/sshd" "$root/run/lock" && chmod 1777 "$root/run/lock"',
  'hostname "$name"',
  `exec chroot "$root" /usr/bin/env -i PATH=${GUEST_PATH} LANG=C.UTF-8 /bin/sh -c "$init"`,
].join('\n');

function startInit(dir: string, netns: string, root: string, name: string): ChildProcess {
  const log = openSync(join(dir, 'init.log'), 'a');
  try {
    const child = spawn(
      'ip',
      ['netns', 'exec', netns, 'unshare', '--pid', '--fork', '--mount', '--uts', '--kill-child', '--',
        '/bin/sh', '-c', SETUP, 'setup', root, name, INIT],
      { stdio: ['ignore', log, log] },
    );
    child.unref(); // a test may end with the host still up: the exit handler stops it
    return child;
  } finally {
    closeSync(log);
  }
}

/** PID (in our namespace) of the host's init: the only child of unshare. */
async function innerInitPid(init: ChildProcess): Promise<number> {
  for (let i = 0; i < 100; i++) {
    if (init.exitCode !== null || init.signalCode !== null) throw new Error('the test host init exited at once');
    const r = await execa('pgrep', ['-P', String(init.pid)], { reject: false });
    const pid = Number(r.stdout.trim().split('\n')[0]);
    if (pid > 0) return pid;
    await sleep(50);
  }
  throw new Error('the test host init did not start');
}

async function waitForSsh(address: string, init: ChildProcess, timeoutMs: number, dir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (init.exitCode !== null || init.signalCode !== null) break;
    if (await sshBanner(address)) return;
    await sleep(100);
  }
  const log = await execa('cat', [join(dir, 'init.log'), join(dir, 'root/var/log/sshd.log')], { reject: false });
  throw new Error(`sshd on test host ${address} did not answer:\n${tail(log.stdout + log.stderr)}`);
}

function sshBanner(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function stopLive(handle: LiveHost): Promise<void> {
  if (!live.delete(handle)) return;
  const exited = handle.init ? childExit(handle.init) : Promise.resolve();
  const r = await execa('bash', [SCRIPT_PATH, 'stop', handle.dir], { reject: false });
  await exited;
  if (r.exitCode !== 0) throw new Error(`stopping test host ${handle.dir} failed:\n${tail(r.stderr)}`);
}

function childExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' handlers must be synchronous: stop each remaining host with spawnSync.
  process.on('exit', stopAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      stopAllSync();
      process.exit(code);
    });
  }
}

function stopAllSync(): void {
  for (const handle of live) {
    live.delete(handle);
    spawnSync('bash', [SCRIPT_PATH, 'stop', handle.dir], { stdio: 'ignore' });
  }
}

function assertRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('test hosts need root (namespaces, mounts, iptables)');
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
