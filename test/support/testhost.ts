// A fresh Debian host for end-to-end tests: its own root filesystem (copy-on-write over a cached
// debootstrap image), network namespace and address, cgroup, and pid/mount/uts/ipc/cgroup
// namespaces in which systemd boots as PID 1, as on a VPS; sshd reachable with a per-host test key.
// mailrig provisions it over SSH as it would a VPS. API: TESTHOST.md.
//
//   const host = await startTestHost({ release: 'bookworm' });
//   // ssh root@host.address with host.keyFile, known hosts in host.knownHostsFile
//   await host.exec('systemctl is-system-running');  // inside the host, not over SSH
//   await host.poweroff(); await host.boot();         // a reboot: same disk, address and keys
//   await host.stop();                                // leaves nothing behind
//
// Root-only work (mounts, namespaces, cgroups, iptables) lives in testhost.sh so that stop can also
// run synchronously from an exit handler.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export type TestHostRelease = 'bookworm' | 'trixie';

export type TestHostInit = 'systemd' | 'sshd';

export interface TestHostOptions {
  release: TestHostRelease;
  /** Host name inside the host; its network namespace is mailrig-<name>-<random tag>. */
  name?: string;
  /**
   * PID 1 of the host: systemd, as on every VPS (the default), or a small shell init that only runs
   * sshd, for the path mailrig takes on hosts without systemd (init scripts and cron).
   */
  init?: TestHostInit;
  /** Milliseconds to wait for a boot: systemd up and sshd answering (default 60 000). */
  startTimeoutMs?: number;
  /**
   * A directory laid read-only over the base image, under the host's own copy-on-write layer: the
   * disk of a host provisioned once (see provisioned.ts). Default: none, a fresh image.
   */
  layer?: string;
}

export interface TestHostExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestHost {
  readonly name: string;
  readonly release: TestHostRelease;
  readonly init: TestHostInit;
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
  /** The host's cgroup (v2) on this machine: every process of the host is in it or below. */
  readonly cgroup: string;
  /** The host's temporary directory on this machine (overlay, keys, state): gone after stop(). */
  readonly workDir: string;
  /** PID (in this machine's namespace) of the host's PID 1 while it runs; undefined when it is off. */
  readonly pid1: number | undefined;
  /** Runs cmd with /bin/sh inside the host as root, directly (nsenter), not over SSH. */
  exec(cmd: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<TestHostExecResult>;
  /** Powers the host off cleanly (systemd's poweroff); its disk, address and keys stay for boot(). */
  poweroff(): Promise<void>;
  /** SIGKILL to the host's PID 1: a power loss. The overlay keeps whatever had been written. */
  killHard(): Promise<void>;
  /** Boots the powered-off host again from the same root, with the same address and host keys. */
  boot(): Promise<void>;
  /** Powers the host off (cleanly, within a bound) and removes every trace of it. Idempotent. */
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
  const handle: LiveHost = { dir, init: opts.init ?? 'systemd', supervisor: undefined, pid1: undefined, timeoutMs: opts.startTimeoutMs ?? 60_000 };
  live.add(handle);
  installExitHandlers();
  try {
    const prepared = await execa('bash', [SCRIPT_PATH, 'prepare', dir, opts.release, name, ...(opts.layer ? [opts.layer] : [])], {
      reject: false,
      env: { MAILRIG_TESTHOST_OWNER: String(process.pid) },
    });
    if (prepared.exitCode !== 0) throw new Error(`preparing test host ${name} failed:\n${tail(prepared.stderr)}`);
    handle.info = parseKeyValues(prepared.stdout);
    await bootLive(handle);
    return makeHost(handle, { name, release: opts.release, info: handle.info });
  } catch (err) {
    await stopLive(handle);
    throw err;
  }
}

interface LiveHost {
  dir: string;
  init: TestHostInit;
  timeoutMs: number;
  info?: HostInfo;
  /** `testhost.sh boot`, which becomes unshare: the host's PID 1 is its only child. */
  supervisor: ChildProcess | undefined;
  pid1: number | undefined;
}

/** Hosts of this process not yet stopped: the exit handler tears them down if the test could not. */
const live = new Set<LiveHost>();

function makeHost(handle: LiveHost, p: { name: string; release: TestHostRelease; info: HostInfo }): TestHost {
  const { info } = p;
  return {
    name: p.name,
    release: p.release,
    init: handle.init,
    address: info.ADDRESS,
    gateway: info.GATEWAY,
    sshPort: 22,
    user: 'root',
    keyFile: info.KEY_FILE,
    knownHostsFile: info.KNOWN_HOSTS,
    hostKeyFingerprint: info.FINGERPRINT,
    netns: info.NETNS,
    veth: info.VETH,
    cgroup: info.CGROUP,
    workDir: info.WORK_DIR,
    get pid1() {
      return handle.pid1;
    },
    exec: (cmd, execOpts = {}) => execIn(handle, cmd, execOpts),
    poweroff: () => powerOff(handle),
    killHard: () => killHard(handle),
    async boot() {
      if (!live.has(handle)) throw new Error(`test host ${p.name} was stopped`);
      if (handle.pid1 !== undefined) throw new Error(`test host ${p.name} is running`);
      await bootLive(handle);
    },
    stop: () => stopLive(handle),
  };
}

async function execIn(handle: LiveHost, cmd: string, opts: { stdin?: string | Buffer; timeoutMs?: number }): Promise<TestHostExecResult> {
  if (handle.pid1 === undefined) throw new Error(`test host ${handle.dir} is not running`);
  // -a: every namespace of its PID 1; -r/-w: its root (the overlay) and cwd; env -i: nothing of the
  // test runner's environment.
  const args = ['-t', String(handle.pid1), '-a', '-r', '-w', '/usr/bin/env', '-i',
    `PATH=${GUEST_PATH}`, 'HOME=/root', 'LC_ALL=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', '/bin/sh', '-c', cmd];
  const r = await execa('nsenter', args, {
    reject: false,
    input: opts.stdin ?? '',
    timeout: opts.timeoutMs,
    stripFinalNewline: false,
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), code: r.exitCode ?? -1 };
}

const INFO_KEYS = ['ADDRESS', 'GATEWAY', 'NETNS', 'VETH', 'CGROUP', 'WORK_DIR', 'ROOT', 'KEY_FILE', 'KNOWN_HOSTS', 'FINGERPRINT'] as const;
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

/** Starts the host's PID 1 and waits until it has booted: systemd settled, sshd answering. */
async function bootLive(handle: LiveHost): Promise<void> {
  const info = handle.info;
  if (!info) throw new Error('test host not prepared');
  const log = openSync(join(handle.dir, 'init.log'), 'a');
  try {
    handle.supervisor = spawn('bash', [SCRIPT_PATH, 'boot', handle.dir, handle.init], { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  handle.supervisor.unref(); // a test may end with the host up: the exit handler stops it
  const deadline = Date.now() + handle.timeoutMs;
  handle.pid1 = await innerPid1(handle.supervisor, deadline).catch(async (err: Error) => {
    const log = await execa('tail', ['-n', '30', join(handle.dir, 'init.log')], { reject: false });
    throw new Error(`${err.message}:\n${log.stdout}`);
  });
  if (handle.init === 'systemd') await waitForSystemd(handle, deadline);
  await waitForSsh(handle, info.ADDRESS, deadline);
}

/** PID (in our namespace) of the host's PID 1: the only child of unshare, in a pid namespace of its own. */
async function innerPid1(supervisor: ChildProcess, deadline: number): Promise<number> {
  const ownPidNs = readlinkSync('/proc/self/ns/pid');
  while (Date.now() < deadline) {
    if (exited(supervisor)) throw new Error('the test host exited at once');
    // testhost.sh boot execs nsenter, which execs unshare, which forks PID 1.
    const r = await execa('pgrep', ['-P', String(supervisor.pid)], { reject: false });
    for (const pid of r.stdout.trim().split('\n').map(Number).filter((n) => n > 0)) {
      try {
        if (readlinkSync(`/proc/${pid}/ns/pid`) !== ownPidNs) return pid;
      } catch {
        // gone already: a helper process of the boot script
      }
    }
    await sleep(50);
  }
  throw new Error('the test host PID 1 did not start');
}

/**
 * Waits for `systemctl is-system-running` to say running or degraded. With --wait, systemd itself
 * answers once the boot is over; asked before its bus is up, it answers at once and is asked again.
 */
async function waitForSystemd(handle: LiveHost, deadline: number): Promise<void> {
  let state = '';
  while (Date.now() < deadline) {
    if (handle.supervisor && exited(handle.supervisor)) break;
    const r = await execIn(handle, 'systemctl is-system-running --wait', { timeoutMs: Math.max(1000, deadline - Date.now()) });
    state = r.stdout.trim();
    if (state === 'running' || state === 'degraded') return;
    await sleep(100);
  }
  const why = handle.supervisor && !exited(handle.supervisor)
    ? (await execIn(handle, 'systemctl --no-pager --failed; systemctl --no-pager list-jobs', { timeoutMs: 10_000 })).stdout
    : '';
  const log = await execa('tail', ['-n', '30', join(handle.dir, 'init.log')], { reject: false });
  throw new Error(`systemd on test host ${handle.dir} did not finish booting (state '${state}'):\n${why}\n${log.stdout}`);
}

async function waitForSsh(handle: LiveHost, address: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (handle.supervisor && exited(handle.supervisor)) break;
    if (await sshBanner(address)) return;
    await sleep(100);
  }
  const log = await execa('tail', ['-n', '30', join(handle.dir, 'init.log'), join(handle.dir, 'root/var/log/sshd.log')], { reject: false });
  throw new Error(`sshd on test host ${address} did not answer:\n${log.stdout}${log.stderr}`);
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

/** systemd powers off on SIGRTMIN+4; the shell init ends on SIGTERM. */
const POWEROFF_SIGNAL = { systemd: 'RTMIN+4', sshd: 'TERM' } as const;
const POWEROFF_TIMEOUT_MS = 60_000;

async function powerOff(handle: LiveHost): Promise<void> {
  const { supervisor, pid1 } = handle;
  if (!supervisor || pid1 === undefined) return;
  await execa('kill', ['-s', POWEROFF_SIGNAL[handle.init], String(pid1)], { reject: false });
  if (!(await exitWithin(supervisor, POWEROFF_TIMEOUT_MS))) {
    process.kill(pid1, 'SIGKILL');
    await exitWithin(supervisor, 10_000);
    handle.supervisor = undefined;
    handle.pid1 = undefined;
    throw new Error(`test host ${handle.dir} did not power off within ${POWEROFF_TIMEOUT_MS / 1000} s: killed`);
  }
  handle.supervisor = undefined;
  handle.pid1 = undefined;
}

async function killHard(handle: LiveHost): Promise<void> {
  const { supervisor, pid1 } = handle;
  if (!supervisor || pid1 === undefined) return;
  process.kill(pid1, 'SIGKILL');
  await exitWithin(supervisor, 10_000);
  handle.supervisor = undefined;
  handle.pid1 = undefined;
}

async function stopLive(handle: LiveHost): Promise<void> {
  if (!live.delete(handle)) return;
  let failure: unknown;
  try {
    await powerOff(handle);
  } catch (err) {
    failure = err;
  }
  recordCpu(handle);
  const r = await execa('bash', [SCRIPT_PATH, 'stop', handle.dir], { reject: false });
  if (r.exitCode !== 0) throw new Error(`stopping test host ${handle.dir} failed:\n${tail(r.stderr)}`);
  if (failure) throw failure;
}

/**
 * The CPU time the host used, all its boots together, appended to the file the test runner names in
 * MAILRIG_TEST_CPU_LOG (one "<seconds>" line per host), so that it reports each job's whole cost.
 */
function recordCpu(handle: LiveHost): void {
  const log = process.env.MAILRIG_TEST_CPU_LOG;
  if (!log || !handle.info) return;
  const seconds = cgroupCpuSeconds(handle.info.CGROUP);
  // a figure for the report only: a host whose cgroup is already gone is left out
  if (seconds !== undefined) appendFileSync(log, `${seconds}\n`);
}

/** CPU seconds used in a cgroup (v2) and below it, from its cpu.stat; undefined when unreadable. */
export function cgroupCpuSeconds(cgroup: string): number | undefined {
  try {
    const usec = /^usage_usec (\d+)$/m.exec(readFileSync(join(cgroup, 'cpu.stat'), 'utf8'))?.[1];
    return usec === undefined ? undefined : Number(usec) / 1e6;
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
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
