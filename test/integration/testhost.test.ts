// The end-to-end test host and the SSH transport, together: a fresh Debian host in its own
// namespaces that boots systemd as PID 1 to `running` on both releases, reached over one SSH
// connection with strict host key checking, as root, through sudo, by ~/.ssh/config alias and
// through ssh-agent; powered off and booted again with its disk, killed as by a power loss; then
// stopped without a trace. Needs root.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectSsh, type SshTransport } from '../../src/host/ssh.js';
import { HostKeyChangedError, HostKeyUnknownError, SudoPasswordError, TransportError } from '../../src/host/transport.js';
import { cleanupStaleTestHosts, startTestHost, type TestHost } from '../support/testhost.js';

// CI must run these; a developer without root gets a visible skip instead.
const notRoot = process.getuid?.() !== 0 && !process.env.CI ? 'needs root (namespaces, mounts, iptables)' : false;
const sh = (cmd: string) => execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' });

describe('test host (bookworm) and SshTransport', { skip: notRoot }, () => {
  let host: TestHost;
  let work: string;
  let ipForwardBefore: string;

  before(async () => {
    await cleanupStaleTestHosts();
    ipForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    work = mkdtempSync(join(tmpdir(), 'mailrig-transport-'));
    const t0 = Date.now();
    host = await startTestHost({ release: 'bookworm', name: 'it-bookworm' });
    console.log(`# test host started in ${Date.now() - t0} ms at ${host.address}`);
  });
  after(async () => {
    await host?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const asRoot = (extra: Partial<Parameters<typeof connectSsh>[0]> = {}) =>
    connectSsh({
      target: `root@${host.address}`,
      identityFiles: [host.keyFile],
      knownHostsFile: host.knownHostsFile,
      sshConfigFile: false,
      agentSocket: false,
      home: work,
      ...extra,
    });

  it('is its own host: hostname, pid 1, address; this machine keeps its name', async () => {
    const ownName = sh('hostname').trim();
    const r = await host.exec('hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; ip -4 -o addr show eth0');
    assert.equal(r.code, 0, r.stderr);
    const [name, init, addr] = r.stdout.split('\n');
    assert.equal(name, 'it-bookworm');
    assert.match(init ?? '', /^\/lib\/systemd\/systemd --system/);
    assert.match(addr ?? '', new RegExp(`inet ${host.address.replace(/\./g, '\\.')}/24`));
    await host.exec('hostname mail.example.test');
    assert.equal(sh('hostname').trim(), ownName);
  });

  it('boots systemd to running: no failed units, its own cgroup, sshd from ssh.service', async () => {
    const r = await host.exec('systemctl is-system-running; systemctl --failed --plain --no-legend; systemctl is-active ssh dbus systemd-journald; grep "^0::" /proc/1/cgroup');
    assert.equal(r.stdout, 'running\nactive\nactive\nactive\n0::/init.scope\n', r.stdout + r.stderr);
    // The host's systemd made its slices in the host's cgroup, not at this machine's root.
    assert.ok(existsSync(join(host.cgroup, 'system.slice/ssh.service')), `${host.cgroup}/system.slice/ssh.service`);
    const machineId = (await host.exec('cat /etc/machine-id')).stdout.trim();
    assert.match(machineId, /^[0-9a-f]{32}$/);
    assert.notEqual(machineId, readFileSync('/etc/machine-id', 'utf8').trim());
  });

  it('root: strict known_hosts, commands, 50 files and a read-back over one connection', async (t) => {
    const ssh = await asRoot();
    try {
      const r = await ssh.exec('id -un; cat /etc/debian_version');
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^root\n12\./);
      assert.deepEqual(await ssh.exec('echo oops >&2; exit 7'), { stdout: '', stderr: 'oops\n', code: 7 });
      assert.equal((await ssh.exec('cat', { stdin: 'piped' })).stdout, 'piped');

      const files = Array.from({ length: 50 }, (_, i) => ({
        path: `/etc/mailrig-staging/dir${i % 5}/file${i}.conf`,
        content: `# file ${i}\n${'x'.repeat(2000)}\n`,
        mode: i === 7 ? '0640' : '0644',
        ...(i === 7 ? { owner: 'root', group: 'deploy' } : {}),
      }));
      const t0 = Date.now();
      await ssh.putMany(files);
      t.diagnostic(`putMany of 50 files: ${Date.now() - t0} ms`);
      const listing = await host.exec("find /etc/mailrig-staging -type f | wc -l; stat -c '%a %U %G' /etc/mailrig-staging/dir2/file7.conf");
      assert.equal(listing.stdout, '50\n640 root deploy\n');
      assert.equal((await ssh.get('/etc/mailrig-staging/dir3/file13.conf'))?.toString(), files[13]?.content);
      assert.equal(await ssh.get('/etc/mailrig-staging/absent'), undefined);

      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await ssh.put('/root/blob.bin', binary, '0600');
      assert.deepEqual(await ssh.get('/root/blob.bin'), binary);

      const conns = await host.exec("ss -Htn state established '( sport = :22 )' | wc -l");
      assert.equal(conns.stdout.trim(), '1', 'everything went over one SSH connection');
    } finally {
      await ssh.close();
    }
  });

  it('a daemon started with detachStreams survives and does not hold the channel', async () => {
    const ssh = await asRoot();
    try {
      // Without detachStreams this would wait for the daemon's end of the channel: until the timeout.
      // The daemon's pid is recorded by the command itself: the process exists from the fork on,
      // while a search by name would race the child's exec of sleep.
      const r = await ssh.exec('echo starting; sleep 300 & echo $! >/run/detached.pid; echo started >&2', { detachStreams: true, timeoutMs: 60_000 });
      assert.deepEqual(r, { stdout: 'starting\n', stderr: 'started\n', code: 0 });
      assert.equal((await host.exec('kill -0 "$(cat /run/detached.pid)" && echo alive')).stdout, 'alive\n');
      await host.exec('kill "$(cat /run/detached.pid)"');
      await assert.rejects(ssh.exec('sleep 301 &', { timeoutMs: 1500 }), TransportError, 'without detachStreams the channel stays open');
    } finally {
      await ssh.close();
    }
  });

  it('a dropped connection fails the running and every later command with a TransportError', async () => {
    const ssh = await asRoot();
    let settled = false;
    const running = assert.rejects(ssh.exec('sleep 303'), TransportError).finally(() => (settled = true));
    // The command runs on the host before its connection is cut.
    while (!settled && (await host.exec('pgrep -x -f "sleep 303" >/dev/null')).code !== 0) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!settled, 'the command was still running when the connection was cut');
    // The per-connection sshd processes are the listener's children (all inside the test host).
    await host.exec('for p in $(pgrep -P "$(pgrep -o -x sshd)"); do kill -9 "$p"; done');
    await running;
    await assert.rejects(ssh.exec('true'), TransportError);
    await ssh.close();
  });

  it('deploy reaches root through passwordless sudo, by ~/.ssh/config alias', async () => {
    mkdirSync(join(work, '.ssh'), { recursive: true });
    writeFileSync(join(work, '.ssh/config'), `Host testbox\n  HostName ${host.address}\n  User deploy\n  IdentityFile ${host.keyFile}\n`);
    copyFileSync(host.knownHostsFile, join(work, '.ssh/known_hosts'));
    const ssh = await connectSsh({ target: 'testbox', home: work, agentSocket: false });
    try {
      assert.equal(ssh.target, `deploy@${host.address}`);
      assert.equal((await ssh.exec('id -un')).stdout, 'root\n');
      assert.equal((await ssh.exec('id -un', { sudo: false })).stdout, 'deploy\n');
      await ssh.put('/etc/mailrig-sudo-test', 'via sudo\n', '0600', 'root', 'root');
      assert.equal((await host.exec("stat -c '%a %U' /etc/mailrig-sudo-test")).stdout, '600 root\n');
    } finally {
      await ssh.close();
    }
  });

  it('nosudo is refused with a clear message before anything runs', async () => {
    await assert.rejects(
      connectSsh({ target: `nosudo@${host.address}`, identityFiles: [host.keyFile], knownHostsFile: host.knownHostsFile, sshConfigFile: false, agentSocket: false, home: work }),
      (err: unknown) => err instanceof SudoPasswordError && err.message === `user nosudo needs passwordless sudo (NOPASSWD) on ${host.address}`,
    );
  });

  it('logs in with a key held by ssh-agent', async () => {
    const sock = join(work, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      // ssh-agent -D creates its socket once it is ready; it only exits on failure.
      while (!existsSync(sock) && agent.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      execFileSync('ssh-add', [host.keyFile], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const ssh = await asRoot({ identityFiles: [], agentSocket: sock });
      assert.equal((await ssh.exec('echo via agent')).stdout, 'via agent\n');
      await ssh.close();
    } finally {
      agent.kill();
    }
  });

  it('refuses a changed host key, naming both fingerprints', async () => {
    const other = join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherFp = sh(`ssh-keygen -l -E sha256 -f ${other}.pub | cut -d' ' -f2`).trim();
    const known = join(work, 'known_hosts_changed');
    writeFileSync(known, `${host.address} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    let asked = false;
    await assert.rejects(asRoot({ knownHostsFile: known, confirmHostKey: async () => (asked = true) }), (err: unknown) => {
      assert.ok(err instanceof HostKeyChangedError);
      assert.deepEqual(err.knownFingerprints, [otherFp]);
      assert.equal(err.offeredFingerprint, host.hostKeyFingerprint);
      assert.match(err.message, new RegExp(`${escape(otherFp)}.*${escape(host.hostKeyFingerprint)}`));
      return true;
    });
    assert.equal(asked, false, 'a changed key is never offered for confirmation');
  });

  it('asks about an unknown host key: no refuses, yes records it', async () => {
    const known = join(work, 'known_hosts_new');
    await assert.rejects(asRoot({ knownHostsFile: known, confirmHostKey: async () => false }), HostKeyUnknownError);
    await assert.rejects(asRoot({ knownHostsFile: known }), HostKeyUnknownError);
    const questions: string[] = [];
    const ssh: SshTransport = await asRoot({ knownHostsFile: known, confirmHostKey: async (q) => (questions.push(q.fingerprint), true) });
    await ssh.close();
    assert.deepEqual(questions, [host.hostKeyFingerprint]);
    assert.match(readFileSync(known, 'utf8'), new RegExp(`^${escape(host.address)} ssh-ed25519 AAAA`));
    const again = await asRoot({ knownHostsFile: known }); // now known: no question
    await again.close();
  });

  it('a clean power-off and a boot keep the disk, the address and the host keys', async (t) => {
    await host.exec('echo kept > /var/lib/mailrig-reboot-test && sync');
    const firstPid1 = host.pid1;
    let t0 = Date.now();
    await host.poweroff();
    t.diagnostic(`poweroff: ${Date.now() - t0} ms`);
    assert.equal(host.pid1, undefined);
    assert.equal(processesIn(host.cgroup), '', 'nothing runs while the host is off');
    await assert.rejects(host.exec('true'), /not running/);
    t0 = Date.now();
    await host.boot();
    t.diagnostic(`boot: ${Date.now() - t0} ms`);
    assert.notEqual(host.pid1, firstPid1);
    const r = await host.exec('cat /var/lib/mailrig-reboot-test; systemctl is-system-running; hostname');
    assert.equal(r.stdout, 'kept\nrunning\nit-bookworm\n');
    const ssh = await asRoot(); // the same host keys: strict checking passes
    assert.equal((await ssh.exec('cat /var/lib/mailrig-reboot-test')).stdout, 'kept\n');
    await ssh.close();
  });

  it('a hard kill ends every process at once; the next boot finds what was written', async () => {
    await host.exec('echo written > /var/lib/mailrig-kill-test; sleep 600 >/dev/null 2>&1 &');
    await host.killHard();
    assert.equal(host.pid1, undefined);
    assert.equal(processesIn(host.cgroup), '');
    assert.equal(sh(`ip netns pids ${host.netns}`), '', 'nothing of the host is left in its network');
    await host.boot();
    assert.equal((await host.exec('cat /var/lib/mailrig-kill-test; systemctl is-system-running')).stdout, 'written\nrunning\n');
  });

  it('stop leaves nothing behind', async () => {
    const t0 = Date.now();
    await host.stop();
    console.log(`# test host stopped in ${Date.now() - t0} ms`);
    assert.doesNotMatch(sh('ip netns list'), new RegExp(host.netns));
    // Only this host's traces: other test hosts may be running beside it.
    assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), new RegExp(escape(host.workDir)));
    assert.doesNotMatch(sh('iptables -t nat -S'), new RegExp(`mailrig-testhost:${escape(host.netns.replace(/^mailrig-/, ""))}\\b`));
    assert.doesNotMatch(sh('ip -o link'), new RegExp(`\\b${escape(host.veth)}\\b`));
    if (!/mailrig-/.test(sh('ip netns list'))) {
      assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), ipForwardBefore);
    }
    assert.equal(existsSync(host.workDir), false);
    assert.equal(existsSync(host.cgroup), false, 'the cgroup is removed');
    assert.deepEqual(processesRootedIn(host.workDir), [], 'no process has its root in the host');
  });
});

describe('test host (trixie)', { skip: notRoot }, () => {
  it('boots systemd to running and runs apt-get update over SSH through the NAT', { timeout: 600_000 }, async (t) => {
    let t0 = Date.now();
    const host = await startTestHost({ release: 'trixie' });
    t.diagnostic(`booted in ${Date.now() - t0} ms`);
    try {
      const state = await host.exec('systemctl is-system-running; systemctl --failed --plain --no-legend');
      assert.equal(state.stdout, 'running\n', state.stdout + state.stderr);
      const ssh = await connectSsh({
        target: `root@${host.address}`, identityFiles: [host.keyFile], knownHostsFile: host.knownHostsFile,
        sshConfigFile: false, agentSocket: false,
      });
      assert.match((await ssh.exec('cat /etc/debian_version')).stdout, /^(13|trixie)/);
      t0 = Date.now();
      const r = await ssh.exec('apt-get update -q', { timeoutMs: 240_000 });
      t.diagnostic(`apt-get update: ${Date.now() - t0} ms`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /deb\.debian\.org/);
      await ssh.close();
    } finally {
      await host.stop();
    }
  });
});

describe('test host without systemd (init: sshd)', { skip: notRoot }, () => {
  it('runs sshd under a shell init, and stops without a trace', async () => {
    const host = await startTestHost({ release: 'bookworm', init: 'sshd' });
    try {
      const r = await host.exec('cat /proc/1/cmdline | tr "\\0" " "; echo; test -d /run/systemd/system && echo systemd || echo sysv');
      assert.match(r.stdout, /^\/bin\/sh -c .*sshd.*\nsysv\n$/s);
      const ssh = await connectSsh({
        target: `root@${host.address}`, identityFiles: [host.keyFile], knownHostsFile: host.knownHostsFile,
        sshConfigFile: false, agentSocket: false,
      });
      assert.equal((await ssh.exec('id -un')).stdout, 'root\n');
      await ssh.close();
    } finally {
      await host.stop();
    }
    assert.equal(existsSync(host.cgroup), false);
    assert.equal(existsSync(host.workDir), false);
  });
});

/** PIDs in a cgroup and below, one per line ('' when none or when it is gone). */
function processesIn(cgroup: string): string {
  return sh(`find ${cgroup} -name cgroup.procs -exec cat {} + 2>/dev/null || true`).trim();
}

/** Processes whose root directory is inside dir. */
function processesRootedIn(dir: string): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readlinkSync(`/proc/${p}/root`).startsWith(dir);
    } catch {
      return false;
    }
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
