// Replication to the standby with each release's own Dovecot: the rendered files of a primary and
// of its standby, each laid over the release's package in its own copy of the cached root
// filesystem, each side's Dovecot started there. The primary's rendered mailrig-replicate runs its
// real `doveadm sync`; the one stand-in is ssh, which runs the command it was asked for on the standby
// the way sshd does for the replication key: as SSH_ORIGINAL_COMMAND of the forced command, the
// rendered mailrig-dsync-server. So what Dovecot 2.3 (Debian 12) and 2.4 (Debian 13) really send as
// dsync_remote_cmd must pass the wrapper, and the wrapper's doveadm dsync-server must serve it:
// - messages, a flag and a folder move made on the primary appear on the standby;
// - a message stored on the standby (as after a failover) comes back to the primary on the next run;
// - the wrapper refuses a mailbox the standby does not hold, and the run says which one failed.
// Needs root (namespaces, chroot, overlayfs); the root filesystems are built once and cached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { forHost, type Config, type Release } from '../../src/config/model.js';
import { REPLICATION_FILES } from '../../src/render/replication.js';
import { writeTree } from '../../src/render/tree.js';
import { render } from '../../src/services/index.js';
import { configFrom, PROJECT_ROOT, TEST_HASH } from '../support/fixtures.js';
import { CODENAMES } from '../support/render-cases.js';
import { standbyKeys } from '../support/standby.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, chroot, overlayfs)' : false;

function pair(release: Release): Config {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release },
    servers: [{ name: 'standby', role: 'standby', hostname: 'mail2.example.com', ipv4: '198.51.100.40', ssh: 'root@198.51.100.40', release }],
    admin_email: 'admin@example.com',
    tls: { acme: 'self-signed' },
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH }, bob: { password_hash: TEST_HASH } } } },
  });
}

// ssh on the primary: records its arguments, then does what sshd does for a forced command: runs the
// standby's wrapper (the standby's root is mounted at /standby) with the asked command in
// SSH_ORIGINAL_COMMAND. doveadm runs dsync_remote_cmd split at spaces, without a shell.
const FAKE_SSH = `#!/bin/sh
printf '%s\\n' "$*" >>/tmp/ssh-calls
while [ $# -gt 0 ]; do
  case $1 in
    -i|-p|-o|-l) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSH_ORIGINAL_COMMAND="$*" chroot /standby ${REPLICATION_FILES.wrapper}
`;

function message(id: string): string {
  return [`From: carol@example.org`, 'To: alice@example.com', `Subject: ${id}`, `Message-ID: <${id}@example.org>`, 'Date: Thu, 03 Dec 2026 09:00:00 +0000', '', `Body of ${id}.`, ''].join('\r\n');
}

// Both roots, the trees copied in with their owners and modes, vmail made as apply makes it, each
// side's Dovecot started in a network namespace of its own (both listen on the same ports).
const SESSION = `set -eu
mount -t tmpfs tmpfs "$W"
for side in primary standby; do
  mkdir "$W/$side.u" "$W/$side.w" "$W/$side"
  mount -t overlay overlay -o "lowerdir=$R,upperdir=$W/$side.u,workdir=$W/$side.w" "$W/$side"
  for d in tmp run; do mount -t tmpfs tmpfs "$W/$side/$d"; done
  mount --bind /dev "$W/$side/dev"; mount -t proc proc "$W/$side/proc"
  chroot "$W/$side" sh -c 'groupadd -g 5000 vmail && useradd -u 5000 -g vmail -d /var/vmail -m -s /usr/sbin/nologin vmail'
  tree="$TREES/$side"
  cp -r "$tree/." "$W/$side/"
  rm -f "$W/$side/mailrig-manifest.json"
  chroot "$W/$side" sh < "$tree.owners"
  mkdir -p "$W/$side/var/spool/postfix/private" # Postfix makes it at its first start; Dovecot listens there
  unshare --net chroot "$W/$side" dovecot
done
mkdir "$W/primary/standby"
mount --rbind "$W/standby" "$W/primary/standby"
cp "$FAKE_SSH" "$W/primary/usr/bin/ssh"
on() { side=$1; shift; chroot "$W/$side" "$@"; }
for s in primary standby; do
  i=0; until on $s doveadm user alice@example.com >/dev/null 2>&1; do
    i=$((i+1)); [ $i -gt 300 ] && { echo "dovecot on $s did not answer"; on $s doveadm user alice@example.com || true; exit 3; }; sleep 0.1
  done
done
fetch() { on "$1" doveadm fetch -u alice@example.com 'mailbox flags hdr.message-id' all | tr '\\f' '\\n'; }
for m in one two three; do on primary doveadm save -u alice@example.com < "$MSGS/$m.eml"; done
on primary doveadm flags add -u alice@example.com '\\Flagged' mailbox INBOX header Message-ID '<two@example.org>'
on primary doveadm mailbox create -u alice@example.com Projects
on primary doveadm move -u alice@example.com Projects mailbox INBOX header Message-ID '<three@example.org>'
echo "=== run 1"; on primary ${REPLICATION_FILES.script} 2>&1 || echo "exit $?"
echo "=== standby after run 1"; fetch standby
on standby doveadm save -u alice@example.com < "$MSGS/four.eml"
echo "=== run 2"; on primary ${REPLICATION_FILES.script} 2>&1 || echo "exit $?"
echo "=== primary after run 2"; fetch primary
echo "=== stranger"; SSH_ORIGINAL_COMMAND='doveadm dsync-server -ucarol@example.com -U' chroot "$W/standby" ${REPLICATION_FILES.wrapper} 2>&1 </dev/null || echo "exit $?"
echo "=== ssh calls"; cat "$W/primary/tmp/ssh-calls"
echo "=== end"
`;

/** The mailbox and flags of each message, by Message-ID, from `doveadm fetch` output. */
function messages(out: string): Map<string, { mailbox: string; flags: string }> {
  const found = new Map<string, { mailbox: string; flags: string }>();
  for (const block of out.split(/\n(?=mailbox: )/)) {
    const mailbox = /^mailbox: (.*)$/m.exec(block)?.[1]?.trim();
    const flags = /^flags: ?(.*)$/m.exec(block)?.[1]?.trim() ?? '';
    const id = /^hdr\.message-id: ?(.*)$/m.exec(block)?.[1]?.trim();
    if (mailbox && id) found.set(id, { mailbox, flags });
  }
  return found;
}

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`replication to a standby with Dovecot of ${CODENAMES[release]}`, { skip }, () => {
    let rootfs = '';
    before(() => {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', CODENAMES[release] ?? release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, r.stderr);
      rootfs = r.stdout.trim().split('\n').pop() ?? '';
    });

    it('the rendered sync runs through the wrapper both ways: new mail, a flag and a move on the standby, mail stored there back on the primary', async () => {
      const config = pair(release);
      const trees = mkdtempSync(join(tmpdir(), 'mailrig-dsync-trees-'));
      const work = mkdtempSync(join(tmpdir(), 'mailrig-dsync-work-'));
      try {
        const keys = await standbyKeys(config);
        // The standby's users file lists alice and bob; carol is nobody's.
        for (const [side, files] of [
          ['primary', render({ config, keys, release })],
          ['standby', render({ config: forHost(config, 'standby'), keys, release })],
        ] as const) {
          writeTree(join(trees, side), files);
          const owners = files.map((f) => `chown ${f.owner}:${f.group} '${f.path}' && chmod ${f.mode} '${f.path}'\n`).join('');
          writeFileSync(join(trees, `${side}.owners`), owners);
        }
        writeFileSync(join(trees, 'ssh'), FAKE_SSH, { mode: 0o755 });
        mkdirSync(join(trees, 'messages'));
        for (const m of ['one', 'two', 'three', 'four']) writeFileSync(join(trees, 'messages', `${m}.eml`), message(m));
        const lock = join(rootfs, '..', `.${CODENAMES[release]}.lock`);
        const r = spawnSync('flock', ['-s', lock, 'unshare', '--mount', '--pid', '--fork', '--kill-child', '--', 'bash', '-c', SESSION], {
          encoding: 'utf8',
          env: { ...process.env, R: rootfs, W: work, TREES: trees, FAKE_SSH: join(trees, 'ssh'), MSGS: join(trees, 'messages'), PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
          timeout: 300_000,
          maxBuffer: 16 << 20,
        });
        const part = (name: string) => r.stdout.split(`=== ${name}\n`)[1]?.split('\n=== ')[0] ?? '';
        assert.equal(r.status, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        const all = `${r.stdout}\n${r.stderr}`;
        assert.match(part('run 1'), /^mailrig-replicate: 2 synced to standby in \d+s\n?$/, all);
        const standby = messages(part('standby after run 1'));
        assert.deepEqual([...standby.keys()].sort(), ['<one@example.org>', '<three@example.org>', '<two@example.org>'], all);
        assert.equal(standby.get('<three@example.org>')?.mailbox, 'Projects', all);
        assert.equal(standby.get('<one@example.org>')?.mailbox, 'INBOX', all);
        assert.match(standby.get('<two@example.org>')?.flags ?? '', /\\Flagged/, all);
        assert.doesNotMatch(standby.get('<one@example.org>')?.flags ?? '', /\\Flagged/, all);
        assert.match(part('run 2'), /^mailrig-replicate: 2 synced to standby in \d+s\n?$/, all);
        const primary = messages(part('primary after run 2'));
        assert.deepEqual([...primary.keys()].sort(), ['<four@example.org>', '<one@example.org>', '<three@example.org>', '<two@example.org>'], all);
        assert.match(part('stranger'), /refused: carol@example\.com is not a mailbox of this server[\s\S]*exit 1/, all);
        // What Dovecot asked ssh for: the wrapper's one command shape, for each user, with the pinned key.
        const calls = part('ssh calls').trim().split('\n');
        assert.equal(calls.length, 4, all);
        for (const call of calls) {
          assert.match(call, /-o HostKeyAlias=mailrig-standby .*-o StrictHostKeyChecking=yes|-o StrictHostKeyChecking=yes .*-o HostKeyAlias=mailrig-standby/, call);
          assert.match(call, / 198\.51\.100\.40 doveadm dsync-server -u(alice|bob)@example\.com( -U)?$/, call);
        }
      } finally {
        rmSync(trees, { recursive: true, force: true });
        rmSync(work, { recursive: true, force: true });
      }
    });
  });
}
