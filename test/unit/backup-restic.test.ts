// The restic command lines mailrig runs on the host, and the repositories it accepts: table-driven.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repositoryKind } from '../../src/config/repository.js';
import { isSnapshotId, mailHome, parseRestored, restoreScript } from '../../src/backup/restore.js';
import { backupArgs, envFileLines, forgetArgs, restic, restoreArgs, retentionFlags, snapshotsArgs, statsArgs } from '../../src/backup/restic.js';

const syntaxOk = (script: string) => spawnSync('sh', ['-n'], { input: script }).status === 0;

describe('restic repositories', () => {
  const cases: Array<[string, ReturnType<typeof repositoryKind>]> = [
    ['/var/backups/mailrig-restic', 'local'],
    ['/mnt/usb/restic', 'local'],
    ['sftp:backup@backup.example.net:/srv/restic/mail', 'sftp'],
    ['sftp:backuphost:restic', 'sftp'],
    ['sftp://backup@backup.example.net:2222//srv/restic', 'sftp'],
    ['s3:https://s3.eu-central-1.amazonaws.com/my-bucket', 's3'],
    ['s3:https://minio.example.net:9000/mail/backups', 's3'],
    ['s3:s3.amazonaws.com/my-bucket', 's3'],
    ['relative/path', undefined],
    ['/', undefined],
    ['/var/backups/', undefined],
    ['/var/../etc', undefined],
    ['/var/my backups', undefined],
    ['rest:https://host/', undefined],
    ['sftp:', undefined],
    ['s3:https://host', undefined],
  ];
  for (const [repo, kind] of cases) {
    it(`${repo} → ${kind ?? 'refused'}`, () => assert.equal(repositoryKind(repo), kind));
  }
});

describe('restic command lines', () => {
  it('backs up with the mailrig tag and the mail host name, so other snapshots are never counted or pruned', () => {
    assert.equal(restic(backupArgs('mail.example.com')), 'restic backup --tag mailrig --host mail.example.com');
  });

  it('turns the retention into keep flags, leaving out counts of 0', () => {
    assert.deepEqual(retentionFlags({ daily: 7, weekly: 4, monthly: 12 }), ['--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12']);
    assert.deepEqual(retentionFlags({ daily: 14, weekly: 0, monthly: 6 }), ['--keep-daily', '14', '--keep-monthly', '6']);
  });

  it('forgets and prunes only mailrig snapshots of this host', () => {
    assert.equal(
      restic(forgetArgs('mail.example.com', { daily: 7, weekly: 4, monthly: 12 })),
      'restic forget --prune --tag mailrig --host mail.example.com --keep-daily 7 --keep-weekly 4 --keep-monthly 12',
    );
  });

  it('keeps the last snapshot when every count is 0, rather than letting restic refuse the policy', () => {
    assert.deepEqual(forgetArgs('h.example', { daily: 0, weekly: 0, monthly: 0 }).slice(-2), ['--keep-last', '1']);
  });

  it('reads without a lock, so status works while a backup runs', () => {
    assert.equal(restic(snapshotsArgs('mail.example.com')), 'restic --no-lock snapshots --json --tag mailrig --host mail.example.com');
    assert.equal(restic(statsArgs('mail.example.com')), 'restic --no-lock stats --json latest --host mail.example.com --tag mailrig');
    assert.equal(restic(statsArgs('mail.example.com', 'fdd6f403')), 'restic --no-lock stats --json fdd6f403');
  });

  it('restores one path; "latest" means the latest of this host', () => {
    assert.deepEqual(restoreArgs('mail.example.com', 'latest', '/t', '/var/vmail/example.com/bob'), [
      'restore', 'latest', '--host', 'mail.example.com', '--tag', 'mailrig', '--target', '/t', '--include', '/var/vmail/example.com/bob',
    ]);
    assert.deepEqual(restoreArgs('mail.example.com', '8a565059', '/t', '/x'), ['restore', '8a565059', '--target', '/t', '--include', '/x']);
  });

  it('quotes what sh would otherwise read', () => {
    assert.deepEqual(envFileLines("/srv/it's here", { AWS_SECRET_ACCESS_KEY: 'a$b', AWS_ACCESS_KEY_ID: 'AK' }), [
      `export RESTIC_REPOSITORY='/srv/it'\\''s here'`,
      'export RESTIC_PASSWORD_FILE=/etc/mailrig/restic-password',
      'export AWS_ACCESS_KEY_ID=AK',
      `export AWS_SECRET_ACCESS_KEY='a$b'`,
    ]);
  });
});

describe('restore', () => {
  it("finds the mailbox's home where Dovecot keeps it", () => {
    assert.equal(mailHome('bob@example.com'), '/var/vmail/example.com/bob');
  });

  it('accepts "latest" and hex snapshot ids only', () => {
    assert.ok(isSnapshotId('latest'));
    assert.ok(isSnapshotId('fdd6f403'));
    assert.ok(!isSnapshotId('fdd6f403; rm -rf /'));
    assert.ok(!isSnapshotId('abc'));
  });

  it('is a valid sh script that restores into a temp dir, moves messages back, and resyncs Dovecot', () => {
    const script = restoreScript({ address: 'bob@example.com', snapshot: 'latest', hostname: 'mail.example.com' });
    assert.ok(syntaxOk(script), script);
    assert.match(script, /\. \/etc\/mailrig\/backup\.env && \{/);
    assert.match(script, /restic restore latest --host mail\.example\.com --tag mailrig --target "\$tmp" --include \/var\/vmail\/example\.com\/bob/);
    assert.match(script, /mktemp -d \/var\/vmail\/\.mailrig-restore\./);
    assert.match(script, /doveadm force-resync -u bob@example\.com '\*'/);
    assert.doesNotMatch(script, /rm -rf "\$home|rm -rf \/var\/vmail\/example/);
  });

  it('reads the count the script prints', () => {
    assert.equal(parseRestored('restored 2\n'), 2);
    assert.equal(parseRestored('noise\n'), undefined);
  });
});
