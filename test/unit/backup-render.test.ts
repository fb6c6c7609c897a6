// What a config with backups puts on the host, the config section itself, and `backup init`'s edit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { setSectionEntries } from '../../src/config/edit.js';
import { parseConfig } from '../../src/config/load.js';
import { ensureBackupSecrets, loadBackupSecrets } from '../../src/keys/backup.js';
import { render } from '../../src/services/index.js';
import { renderBackup } from '../../src/render/backup.js';
import { fixtureKeyDir, oneDomainConfig } from '../support/fixtures.js';
import { loadKeys } from '../../src/keys/store.js';
import type { RawConfigInput } from '../../src/config/schema.js';

function ctx(backup: RawConfigInput['backup'], env?: Record<string, string>) {
  const config = oneDomainConfig(backup ? { backup } : {});
  const dir = fixtureKeyDir();
  if (backup) ensureBackupSecrets(dir, env);
  return { config, keys: loadKeys(dir, ['example.com']), release: 'debian-12' as const };
}

const file = (files: ReturnType<typeof renderBackup>, path: string) => {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`${path} not rendered`);
  return f;
};

describe('backup rendering', () => {
  it('renders nothing without a backup section (golden trees stay as they are)', () => {
    const c = ctx(undefined);
    assert.deepEqual(renderBackup(c), []);
    assert.ok(!render(c).some((f) => f.path.includes('backup') || f.path.includes('restic')));
  });

  it('renders env, password, script, timer, service and cron entry; root-only where secrets are', () => {
    const files = renderBackup(ctx({ repository: '/var/backups/mailrig-restic' }));
    assert.deepEqual(
      files.map((f) => `${f.path} ${f.mode} ${f.owner}:${f.group} ${f.service}/${f.onChange}${f.secret ? ' secret' : ''}`),
      [
        '/etc/mailrig/backup.env 0600 root:root backup/none',
        '/etc/mailrig/restic-password 0600 root:root backup/none secret',
        '/usr/local/sbin/mailrig-backup 0700 root:root backup/none',
        '/etc/systemd/system/mailrig-backup.service 0644 root:root backup/none',
        '/etc/systemd/system/mailrig-backup.timer 0644 root:root backup/none',
        '/etc/cron.d/mailrig-backup 0644 root:root backup/none',
      ],
    );
    assert.match(file(files, '/etc/mailrig/backup.env').content, /^export RESTIC_REPOSITORY=\/var\/backups\/mailrig-restic\nexport RESTIC_PASSWORD_FILE=\/etc\/mailrig\/restic-password\n$/m);
    assert.match(file(files, '/etc/mailrig/restic-password').content, /^[A-Za-z0-9_-]{43}\n$/);
  });

  it('backs up mail, configuration and keys, then applies the retention, in a script sh accepts', () => {
    const script = file(renderBackup(ctx({ repository: '/r', keep_daily: 3, keep_weekly: 0, keep_monthly: 2 })), '/usr/local/sbin/mailrig-backup').content;
    assert.equal(spawnSync('sh', ['-n'], { input: script }).status, 0, script);
    assert.match(script, /^for p in \/var\/vmail \/etc\/postfix \/etc\/dovecot \/etc\/rspamd \/etc\/nginx \/etc\/redis \/etc\/mailrig \/var\/lib\/rspamd\/dkim \/etc\/radicale \/var\/lib\/radicale\/collections; do$/m);
    assert.match(script, /^restic backup --tag mailrig --host mail\.example\.com "\$@"$/m);
    assert.match(script, /^restic forget --prune --tag mailrig --host mail\.example\.com --keep-daily 3 --keep-monthly 2$/m);
    assert.match(script, /^flock -n 9|if ! flock -n 9/m);
  });

  it('schedules at backup.schedule, by the timer or (without systemd) by cron', () => {
    const files = renderBackup(ctx({ repository: '/r', schedule: '04:05' }));
    assert.match(file(files, '/etc/systemd/system/mailrig-backup.timer').content, /^OnCalendar=\*-\*-\* 04:05:00$/m);
    assert.match(file(files, '/etc/systemd/system/mailrig-backup.timer').content, /^Persistent=true$/m);
    assert.match(
      file(files, '/etc/cron.d/mailrig-backup').content,
      /^5 4 \* \* \* root \[ -d \/run\/systemd\/system \] \|\| \/usr\/local\/sbin\/mailrig-backup >>\/var\/log\/mailrig-backup\.log 2>&1$/m,
    );
  });

  it('puts S3 credentials in the root-only env file and hides it from diffs', () => {
    const files = renderBackup(ctx({ repository: 's3:https://s3.example.net/bucket' }, { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's3cr3t/x+y' }));
    const env = file(files, '/etc/mailrig/backup.env');
    assert.ok(env.secret);
    assert.match(env.content, /^export AWS_ACCESS_KEY_ID=AKID$/m);
    assert.match(env.content, /^export AWS_SECRET_ACCESS_KEY=s3cr3t\/x\+y$/m);
  });

  it('refuses to render backups before backup init made the password', () => {
    const config = oneDomainConfig({ backup: { repository: '/r' } });
    const keys = loadKeys(fixtureKeyDir(), ['example.com']);
    assert.throws(() => renderBackup({ config, keys, release: 'debian-12' }), /no restic password yet; run mailrig backup init/);
  });
});

describe('backup secrets', () => {
  it('makes the password once and never regenerates it', () => {
    const dir = fixtureKeyDir();
    assert.deepEqual(ensureBackupSecrets(dir), ['secrets/restic-password']);
    const first = loadBackupSecrets(dir)?.password;
    assert.deepEqual(ensureBackupSecrets(dir), []);
    assert.equal(loadBackupSecrets(dir)?.password, first);
    assert.deepEqual(loadBackupSecrets(dir)?.env, {});
  });
});

describe('backup config', () => {
  const base = 'server:\n  hostname: mail.example.com\n  ipv4: 203.0.113.10\n  ssh: root@203.0.113.10  # the VPS\n  release: debian-12\nadmin_email: admin@example.com\ndomains:\n  example.com:\n    mailboxes: {}\ntls: { acme: self-signed }\n';

  it('fills the defaults: 03:30, 7 daily, 4 weekly, 12 monthly', () => {
    const { config } = parseConfig(`${base}backup:\n  repository: /var/backups/mailrig-restic\n`, 'mailrig.yaml');
    assert.deepEqual(config.backup, { repository: '/var/backups/mailrig-restic', schedule: { hour: 3, minute: 30 }, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 });
    assert.equal(parseConfig(base, 'mailrig.yaml').config.backup, undefined);
  });

  it('reports a bad repository and a bad time at once', () => {
    assert.throws(
      () => parseConfig(`${base}backup:\n  repository: backups\n  schedule: "25:00"\n`, 'mailrig.yaml'),
      (e: Error & { problems?: Array<{ path: string; message: string }> }) => {
        const problems = (e.problems ?? []).map((p) => `${p.path}: ${p.message}`);
        assert.ok(problems.some((p) => /^backup\.repository: is not a restic repository/.test(p)), problems.join('\n'));
        assert.ok(problems.some((p) => /^backup\.schedule: is not a time of day/.test(p)), problems.join('\n'));
        return true;
      },
    );
  });

  it('backup init adds the section at the end, keeping every comment; a second init replaces the repository only', () => {
    const once = setSectionEntries(base, 'backup', { repository: '/var/backups/mailrig-restic' });
    assert.ok(once.startsWith(base), once);
    assert.equal(parseConfig(once, 'mailrig.yaml').config.backup?.repository, '/var/backups/mailrig-restic');
    const block = `${base}backup:\n  repository: /old  # first disk\n  keep_daily: 3\n`;
    const twice = setSectionEntries(block, 'backup', { repository: 'sftp:u@h:/srv/r' });
    assert.equal(twice, `${base}backup:\n  repository: sftp:u@h:/srv/r  # first disk\n  keep_daily: 3\n`);
  });
});
