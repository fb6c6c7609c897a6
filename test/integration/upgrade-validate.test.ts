// The upgrade's validation ahead of the package upgrade, with real daemons: inside a throwaway copy
// of the cached Debian 12 root filesystem (the "live" host), the cached Debian 13 root stands in for
// the downloaded packages unpacked beside it (its /usr); validateScript lays a Debian 13 tree over the live
// files in a root of the new binaries and runs the daemons' own checks there. A Debian 13 tree
// passes (and the same tree is rejected by the Debian 12 daemons: the checks did run the new ones);
// a tree with a setting Dovecot 2.4 no longer knows is rejected with doveconf's message. Nothing is
// left mounted or behind. Needs root (namespaces, overlayfs, chroot).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stageScript, validateScript } from '../../src/apply/scripts.js';
import type { Plan } from '../../src/plan/plan.js';
import type { FileSpec } from '../../src/render/types.js';
import type { Daemon } from '../../src/services/index.js';
import { UNPACKED, VALIDATE_STAGE } from '../../src/upgrade/scripts.js';
import { PROJECT_ROOT } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';

const CACHE = process.env.MAILRIG_TEST_CACHE ?? '/var/cache/mailrig-test';
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, overlayfs, chroot)' : false;

const DOVECOT_24 = 'dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\nprotocols = imap\n';
/** smtp_tlsrpt_enable is Postfix 3.10's: 3.7's postconf calls it unused. */
const MAIN_CF = 'myhostname = mail.example.test\ncompatibility_level = 3.6\nsmtp_tlsrpt_enable = no\n';

function file(path: string, content: string): FileSpec {
  return { path, content, mode: '0644', owner: 'root', group: 'root' } as FileSpec;
}

function planOf(files: FileSpec[]): Plan {
  return { installs: [], changes: files.map((f) => ({ kind: 'update', file: f })), removals: [], mapBuilds: [], actions: [], tasks: [], purges: [] } as unknown as Plan;
}

/**
 * Runs `script` as root in a private mount namespace, chrooted into an overlay of the Debian 12 root
 * (writes to a scratch directory), with the Debian 13 root bound where the upgrade unpacks packages.
 */
function onBookworm(script: string): { code: number | null; output: string; leftMounts: number } {
  const dir = scratchDir('mailrig-upgrade-validate-');
  writeFileSync(join(dir, 'script.sh'), script);
  const outer = [
    'set -e',
    `D=${dir}`,
    'mkdir -p $D/upper $D/work $D/b',
    `mount -t overlay overlay -o lowerdir=${CACHE}/rootfs/bookworm,upperdir=$D/upper,workdir=$D/work $D/b`,
    // Only /usr, as unpacked packages hold it: /etc/passwd and the like stay the host's own.
    `mkdir -p $D/b${UNPACKED}/usr`,
    `for l in bin sbin lib lib64; do ln -s usr/$l $D/b${UNPACKED}/$l; done`,
    `mount --bind ${CACHE}/rootfs/trixie/usr $D/b${UNPACKED}/usr`,
    'mount -t proc proc $D/b/proc',
    'mount --rbind /dev $D/b/dev',
    'cp $D/script.sh $D/b/root/script.sh',
    'chroot $D/b /bin/sh /root/script.sh',
  ].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', outer], { encoding: 'utf8', timeout: 5 * 60_000 });
  const leftMounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(dir)).length;
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, leftMounts };
}

function validation(files: FileSpec[], daemons: Daemon[], other: boolean): string {
  const plan = planOf(files);
  return `${stageScript(VALIDATE_STAGE, plan.changes)}\n${validateScript(VALIDATE_STAGE, plan, daemons, other ? { unpacked: UNPACKED } : undefined)}`;
}

describe('the upgrade validates the Debian 13 tree with the Debian 13 daemons on a Debian 12 root', { skip }, () => {
  before(() => {
    for (const release of ['bookworm', 'trixie']) {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, `rootfs.sh ensure ${release}:\n${`${r.stdout}${r.stderr}`.slice(-3000)}`);
    }
    assert.ok(existsSync(`${CACHE}/rootfs/trixie/usr/bin/doveconf`));
  });

  const tree = [file('/etc/dovecot/dovecot.conf', DOVECOT_24), file('/etc/postfix/main.cf', MAIN_CF)];

  it('a Debian 13 tree passes the Debian 13 checks, and is rejected by the Debian 12 ones', () => {
    const ahead = onBookworm(validation(tree, ['dovecot', 'postfix'], true));
    assert.equal(ahead.code, 0, ahead.output);
    assert.equal(ahead.leftMounts, 0);
    const old = onBookworm(validation(tree, ['dovecot', 'postfix'], false));
    assert.equal(old.code, 1, old.output);
    assert.match(old.output, /dovecot_config_version/);
  });

  it('a setting Dovecot 2.4 no longer knows is rejected, with the validator saying which', () => {
    const broken = [file('/etc/dovecot/dovecot.conf', `${DOVECOT_24}mail_location = maildir:~/Maildir\n`), tree[1]!];
    const r = onBookworm(validation(broken, ['dovecot', 'postfix'], true));
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /mail_location: Unknown setting/);
    assert.equal(r.leftMounts, 0);
  });
});
