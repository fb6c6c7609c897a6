// Backups end to end on a provisioned host booted with systemd, Debian 12 and 13 (from the cached
// provisioned image: provisioning is provision.test.ts's proof): `backup init` installs restic,
// enables the daily timer and creates a repository on the host; `backup now` takes a snapshot that
// `backup status` reports as fresh; the timer's service, started as systemd would, takes another and
// logs to the journal; messages deleted over IMAP come back with `restore --mailbox`, IMAP shows them
// again, and another mailbox is left exactly as it was. Removing the backup: section then takes the
// timer and the files off the host: the plan lists each removal first, and a second apply has nothing
// to do.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { fetchInbox, show, submit, type Workspace } from '../support/e2e.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const ALICE_PASSWORD = PROVISIONED.alicePassword;
const REPO = '/var/backups/mailrig-restic';

for (const release of releasesUnderTest()) describe(`backups with restic on a provisioned ${CONFIG_RELEASE[release]} host`, { timeout: 15 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;
  let ca: string;
  const imap = (user: string, password: string) => ({ host: host.address, user, password, ca, servername: 'mail.example.com' });
  const subjects = (messages: Buffer[]) => messages.map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1]).sort();
  /** The message files of a mailbox (names and content hashes), to prove it was not touched. */
  const messageFiles = async (local: string) =>
    (await host.exec(`cd /var/vmail/example.com/${local}/Maildir && find . -path '*/cur/*' -o -path '*/new/*' | sort | xargs -r sha256sum`)).stdout;

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws, ca } = await startProvisionedHost({ release, name: `backup-${release}` }));
  });
  after(async () => {
    await host?.stop();
  });

  it('a provisioned host with mail in two mailboxes', async () => {
    const common = { host: host.address, port: 587 as const, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' };
    for (const n of [1, 2]) {
      await submit(common, { from: 'alice@example.com', to: 'bob@example.com', subject: `for bob ${n}`, text: `Message ${n} for Bob.` });
    }
    await submit(common, { from: 'alice@example.com', to: 'alice@example.com', subject: 'note to self', text: 'Alice keeps this.' });
    assert.deepEqual(subjects(await fetchInbox(imap('bob@example.com', TEST_PASSWORD), 2)), ['for bob 1', 'for bob 2']);
    assert.deepEqual(subjects(await fetchInbox(imap('alice@example.com', ALICE_PASSWORD), 1)), ['note to self']);
  });

  it('backup init writes mailrig.yaml and the password, installs restic, schedules the backup and creates the repository', async () => {
    const r = await ws.mailrig(['backup', 'init', '--repo', REPO, '--yes'], { hostFlags: true });
    assert.equal(r.code, 0, show(r));
    assert.match(readFileSync(join(ws.dir, 'mailrig.yaml'), 'utf8'), new RegExp(`^backup: \\{ repository: ${REPO} \\}$|^backup:\\n  repository: ${REPO}$`, 'm'));
    assert.match(r.out, /restic-password/);
    assert.match(r.out, new RegExp(`backup repository ${REPO} created`));
    const state = await host.exec(
      `stat -c '%a %U' /etc/mailrig/backup.env /etc/mailrig/restic-password /usr/local/sbin/mailrig-backup; test -f ${REPO}/config && echo repo; systemctl is-enabled mailrig-backup.timer; systemctl is-active mailrig-backup.timer; cat /etc/cron.d/mailrig-backup | tail -n 1`,
    );
    assert.deepEqual(state.stdout.trim().split('\n'), [
      '600 root', '600 root', '700 root', 'repo', 'enabled', 'active',
      // The cron entry steps aside where systemd is PID 1; no cron is installed for it.
      '30 3 * * * root [ -d /run/systemd/system ] || /usr/local/sbin/mailrig-backup >>/var/log/mailrig-backup.log 2>&1',
    ]);
    const cron = await host.exec("dpkg-query -W -f '${db:Status-Status}' cron 2>/dev/null");
    assert.notEqual(cron.stdout, 'installed', 'cron is not installed on a systemd host');
    const timers = await host.exec('systemctl list-timers --all --no-pager --no-legend mailrig-backup.timer');
    assert.match(timers.stdout, /mailrig-backup\.timer\s+mailrig-backup\.service/, timers.stdout);
    assert.equal(
      (await host.exec('cat /etc/mailrig/restic-password')).stdout,
      readFileSync(join(ws.dir, '.mailrig/secrets/restic-password'), 'utf8'),
      'the host holds the password of .mailrig',
    );
    const again = await ws.mailrig(['apply', '--yes'], { hostFlags: true });
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /no changes/);
    assert.doesNotMatch(again.out, /created/, 'the repository is created once');
  });

  it('backup now takes a snapshot; backup status reports it as fresh', async () => {
    const none = await ws.mailrig(['backup', 'status'], { hostFlags: true });
    assert.equal(none.code, 1, show(none));
    assert.match(none.err, /no backup yet/);
    const now = await ws.mailrig(['backup', 'now'], { hostFlags: true });
    assert.equal(now.code, 0, show(now));
    assert.match(now.out, /snapshot [0-9a-f]{8} saved/);
    const status = await ws.mailrig(['backup', 'status', '--json'], { hostFlags: true });
    assert.equal(status.code, 0, show(status));
    const s = JSON.parse(status.out) as { level: string; snapshotCount: number; ageSeconds: number; sizeBytes: number; repository: string };
    assert.equal(s.level, 'ok');
    assert.equal(s.snapshotCount, 1);
    assert.equal(s.repository, REPO);
    assert.ok(s.ageSeconds >= 0 && s.ageSeconds < 600, `age ${s.ageSeconds}`);
    assert.ok(s.sizeBytes > 0);
    const text = await ws.mailrig(['backup', 'status'], { hostFlags: true });
    assert.match(text.out, /last backup \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ s ago\), [\d.]+ (KiB|MiB), snapshot [0-9a-f]{8}/);
    const paths = await host.exec(`. /etc/mailrig/backup.env && restic snapshots --json | tr ',' '\\n' | grep -c '"/'`);
    assert.ok(Number(paths.stdout.trim()) >= 7, `mail, configs and keys are in the snapshot: ${paths.stdout}`);
  });

  it('the timer\'s service, started as systemd would, takes a snapshot and logs it in the journal', async () => {
    const latest = async () => {
      const status = await ws.mailrig(['backup', 'status', '--json'], { hostFlags: true });
      assert.equal(status.code, 0, show(status));
      return /snapshot ([0-9a-f]{8})/.exec((JSON.parse(status.out) as { message: string }).message)?.[1];
    };
    const before = await latest();
    const start = await host.exec('systemctl start mailrig-backup.service', { timeoutMs: 300_000 });
    assert.equal(start.code, 0, start.stderr);
    // A new snapshot (the retention keeps one a day, so the count stays).
    const after = await latest();
    assert.ok(after && before && after !== before, `${before} → ${after}`);
    const journal = await host.exec('journalctl --no-pager -o cat -u mailrig-backup.service');
    assert.match(journal.stdout, /mailrig-backup: backup of .* started/);
    assert.match(journal.stdout, /mailrig-backup: done/);
    assert.match(journal.stdout, /snapshot [0-9a-f]{8} saved/);
  });

  it("restore --mailbox brings deleted messages back, IMAP shows them, and another mailbox is untouched", async () => {
    const aliceBefore = await messageFiles('alice');
    const client = new ImapFlow({ host: host.address, port: 993, secure: true, auth: { user: 'bob@example.com', pass: TEST_PASSWORD }, tls: { ca, servername: 'mail.example.com' }, logger: false });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        assert.ok(await client.messageDelete('1:*'));
      } finally {
        lock.release();
      }
      const st = await client.status('INBOX', { messages: true });
      assert.equal(st ? st.messages : -1, 0, 'deleted and expunged');
    } finally {
      await client.logout();
    }
    const r = await ws.mailrig(['restore', '--mailbox', 'bob@example.com'], { hostFlags: true });
    assert.equal(r.code, 0, show(r));
    assert.match(r.out, /bob@example\.com: 2 messages restored from snapshot latest/);
    assert.deepEqual(subjects(await fetchInbox(imap('bob@example.com', TEST_PASSWORD), 2, 10_000)), ['for bob 1', 'for bob 2']);
    assert.equal(await messageFiles('alice'), aliceBefore, "alice's mail is as it was");
    assert.deepEqual(subjects(await fetchInbox(imap('alice@example.com', ALICE_PASSWORD), 1, 5_000)), ['note to self']);
    const owners = await host.exec("find /var/vmail/example.com/bob ! -user vmail | head -n 5; ls -a /var/vmail | grep -c mailrig-restore || true");
    assert.equal(owners.stdout.trim(), '0', `everything belongs to vmail, no temp dir left: ${owners.stdout}`);
    const again = await ws.mailrig(['restore', '--mailbox', 'bob@example.com'], { hostFlags: true });
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /nothing to restore/, 'a second restore duplicates nothing');
    assert.equal((await fetchInbox(imap('bob@example.com', TEST_PASSWORD), 2, 5_000)).length, 2);
  });

  it('restore refuses an unknown mailbox and a malformed snapshot id before touching the host', async () => {
    const unknown = await ws.mailrig(['restore', '--mailbox', 'carol@example.com'], { hostFlags: true });
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(unknown.err, /no such mailbox/);
    const bad = await ws.mailrig(['restore', '--mailbox', 'bob@example.com', '--snapshot', 'x; rm -rf /'], { hostFlags: true });
    assert.equal(bad.code, 2, show(bad));
  });

  it('removing the backup section: the plan lists the removals, apply takes them off the host, a second apply is a no-op', async () => {
    const files = [
      '/etc/cron.d/mailrig-backup',
      '/etc/mailrig/backup.env',
      '/etc/mailrig/restic-password',
      '/etc/systemd/system/mailrig-backup.service',
      '/etc/systemd/system/mailrig-backup.timer',
      '/usr/local/sbin/mailrig-backup',
    ];
    const present = async () => (await host.exec(`for f in ${files.join(' ')}; do [ -e "$f" ] && echo "$f"; done; true`)).stdout.trim().split('\n').filter(Boolean);
    assert.deepEqual(await present(), files, 'the backup is on the host');
    const path = join(ws.dir, 'mailrig.yaml');
    const yaml = readFileSync(path, 'utf8');
    const without = yaml.replace(/^backup:.*\n(?:[ \t]+.*\n)*/m, '');
    assert.notEqual(without, yaml, 'the backup section was found');
    writeFileSync(path, without);

    const plan = await ws.mailrig(['plan'], { hostFlags: true });
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, /Files to remove \(6; /);
    for (const f of files) assert.ok(plan.out.includes(`  - ${f} (backup)`), `the plan lists ${f}:\n${plan.out}`);
    assert.deepEqual(await present(), files, 'plan changed nothing');

    const apply = await ws.mailrig(['apply', '--yes'], { hostFlags: true });
    assert.equal(apply.code, 0, show(apply));
    assert.match(apply.out, /6 files to remove/);
    assert.deepEqual(await present(), [], 'the schedule and the files are gone');
    const kept = await host.exec(`ls /var/lib/mailrig/backup/*/files/etc/cron.d/mailrig-backup /var/lib/mailrig/backup/*/files/usr/local/sbin/mailrig-backup`);
    assert.equal(kept.code, 0, `the old copies are kept with the run's backup: ${kept.stderr}`);
    assert.doesNotMatch((await host.exec('cat /var/lib/mailrig/state/managed.tsv')).stdout, /backup/, 'the manifest forgets them');

    const again = await ws.mailrig(['apply', '--yes'], { hostFlags: true });
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /no changes/);
    const planAgain = await ws.mailrig(['plan'], { hostFlags: true });
    assert.match(planAgain.out, /No changes: the host matches mailrig\.yaml\./);
  });
});
