// The plan's operations beyond writing files: removing what mailrig managed and no longer renders
// (named by the host's manifest), enabling and disabling schedules, the pipeline's own tasks — each
// shown by the plan, each run by apply's scripts, and nothing left to do once the host has them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rollbackScript, stagedDirs, swapScript, validateScript } from '../../src/apply/scripts.js';
import { scheduleScript, taskScript } from '../../src/apply/tasks.js';
import { REPOSITORY_MARKER, repositoryScript } from '../../src/backup/schedule.js';
import type { Facts } from '../../src/host/facts.js';
import { formatPlan, summarize } from '../../src/plan/format.js';
import { MANIFEST, manifestFile, parseManifest } from '../../src/plan/manifest.js';
import { isEmpty, makePlan, sha256, type DesiredState } from '../../src/plan/plan.js';
import type { FileSpec } from '../../src/render/types.js';
import { scratchDir } from '../support/project.js';

const syntaxOk = (script: string) => spawnSync('sh', ['-n'], { input: script }).status === 0;

const file = (path: string, service: string, extra: Partial<FileSpec> = {}): FileSpec => ({
  path,
  content: `${path}\n`,
  mode: '0644',
  owner: 'root',
  group: 'root',
  service,
  onChange: 'none',
  secret: false,
  ...extra,
});

const mailFiles = [file('/etc/postfix/main.cf', 'postfix', { onChange: 'reload' }), file('/etc/dovecot/dovecot.conf', 'dovecot', { onChange: 'restart' })];
const backupFiles = [
  file('/etc/cron.d/mailrig-backup', 'backup'),
  file('/etc/systemd/system/mailrig-backup.service', 'backup'),
  file('/etc/systemd/system/mailrig-backup.timer', 'backup'),
  file('/usr/local/sbin/mailrig-backup', 'backup', { mode: '0700' }),
];

function desiredOf(files: FileSpec[], extra: Partial<DesiredState> = {}): DesiredState {
  const all = [...files, manifestFile(files)];
  return { packages: [], files: all, daemons: ['postfix', 'dovecot'], ...extra };
}

/** The facts of a host on which `d` was applied (systemd: timers of scheduled services active). */
function converged(d: DesiredState, init: Facts['init'] = 'systemd'): Facts {
  const manifest = d.files.find((f) => f.path === MANIFEST);
  return {
    os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    release: 'debian-12',
    init,
    packages: {},
    files: Object.fromEntries(d.files.map((f) => [f.path, { sha256: sha256(f.content), mode: f.mode, owner: f.owner, group: f.group }])),
    services: { postfix: 1, dovecot: 2, cron: 3 },
    users: ['vmail'],
    timers: init === 'systemd' && d.files.some((f) => f.service === 'backup') ? ['mailrig-backup.timer'] : [],
    managed: manifest ? manifest.content.split('\n').filter((l) => l && !l.startsWith('#')) : [],
    data: [],
  };
}

describe('plan: removals and schedules', () => {
  const withBackup = desiredOf([...mailFiles, ...backupFiles]);
  const without = desiredOf(mailFiles);

  it('the manifest lists every managed file with its service and rule, and reads back', () => {
    const m = manifestFile(mailFiles);
    assert.equal(m.path, MANIFEST);
    assert.deepEqual(parseManifest(m.content.split('\n')), [
      { path: '/etc/postfix/main.cf', service: 'postfix', onChange: 'reload' },
      { path: '/etc/dovecot/dovecot.conf', service: 'dovecot', onChange: 'restart' },
    ]);
    assert.deepEqual(parseManifest(['# comment', 'relative\tpostfix\treload', '/x\tpostfix\tbogus']), []);
  });

  it('a converged host plans nothing, on systemd and on sysv', () => {
    assert.ok(isEmpty(makePlan(withBackup, converged(withBackup))));
    assert.ok(isEmpty(makePlan(withBackup, converged(withBackup, 'sysv'))));
  });

  it('a new backup section enables its timer (systemd) or makes cron run (sysv)', () => {
    const before = converged(without);
    const plan = makePlan(withBackup, before);
    assert.deepEqual(plan.tasks, [{ kind: 'schedule', action: 'enable', unit: 'mailrig-backup', init: 'systemd', because: 'its units changed' }]);
    const sysv = makePlan(withBackup, { ...converged(without, 'sysv'), services: { postfix: 1, dovecot: 2 } });
    assert.deepEqual(sysv.tasks.map((t) => t.kind === 'schedule' && `${t.action} ${t.init}`), ['enable sysv']);
    assert.match(formatPlan(sysv, { before: new Map(), brief: true }), /Then:\n {2}start cron for mailrig-backup \(cron is not running\)/);
  });

  it('an inactive timer is enabled again although no file changed', () => {
    const plan = makePlan(withBackup, { ...converged(withBackup), timers: [] });
    assert.deepEqual(plan.tasks.map((t) => t.kind === 'schedule' && t.because), ['the timer is not active']);
    assert.deepEqual(plan.changes, []);
  });

  it('a removed backup section removes its files, disables the timer and shows both', () => {
    const plan = makePlan(without, converged(withBackup));
    assert.deepEqual(plan.removals.map((r) => r.path), backupFiles.map((f) => f.path));
    assert.deepEqual(plan.tasks, [{ kind: 'schedule', action: 'disable', unit: 'mailrig-backup', init: 'systemd', because: 'backup is no longer configured' }]);
    assert.deepEqual(plan.changes.map((c) => c.file.path), [MANIFEST], 'the manifest forgets them');
    assert.deepEqual(plan.actions, [], 'no daemon reads these files');
    const text = formatPlan(plan, { before: new Map(), brief: true });
    assert.match(text, /Files to remove \(4; no longer rendered, the old copy is kept in the run's backup\):\n {2}- \/etc\/cron\.d\/mailrig-backup \(backup\)/);
    assert.match(text, /disable mailrig-backup\.timer \(backup is no longer configured\)/);
    assert.match(summarize(plan), /4 files to remove; disable mailrig-backup/);
    // Once applied, the host converged: nothing more to do.
    assert.ok(isEmpty(makePlan(without, converged(without))));
  });

  it('on sysv a removed backup section removes the files; cron needs nothing', () => {
    const plan = makePlan(without, converged(withBackup, 'sysv'));
    assert.equal(plan.removals.length, 4);
    assert.deepEqual(plan.tasks, []);
  });

  it("a removed daemon file reloads or restarts its daemon, as a change to it would", () => {
    const smaller = desiredOf([mailFiles[0]!]);
    const plan = makePlan(smaller, converged(without));
    assert.deepEqual(plan.removals, [{ path: '/etc/dovecot/dovecot.conf', service: 'dovecot', onChange: 'restart' }]);
    assert.deepEqual(plan.actions, [{ daemon: 'dovecot', action: 'restart', because: ['/etc/dovecot/dovecot.conf'] }]);
  });

  it("a host without a manifest (provisioned before it existed) removes nothing and gets one", () => {
    const plan = makePlan(without, { ...converged(without), managed: [], files: { ...converged(without).files, [MANIFEST]: undefined! } });
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.file.path}`), [`create ${MANIFEST}`]);
  });

  it("the pipeline's tasks are listed and shown: the backup repository, a certificate", () => {
    const d = desiredOf(mailFiles, {
      tasks: [
        { kind: 'backup-repository', repository: '/var/backups/mailrig-restic' },
        { kind: 'certificate', directoryUrl: 'https://ca.example/dir', reason: 'no CA-issued certificate yet' },
      ],
    });
    const plan = makePlan(d, converged(d));
    assert.ok(!isEmpty(plan));
    const text = formatPlan(plan, { before: new Map() });
    assert.match(text, /open or create the backup repository \/var\/backups\/mailrig-restic \(restic init when missing\)/);
    assert.match(text, /request a certificate from https:\/\/ca\.example\/dir \(no CA-issued certificate yet\)/);
    assert.equal(summarize(plan), 'backup-repository, certificate');
  });
});

describe('apply scripts for removals and tasks', () => {
  const withBackup = desiredOf([...mailFiles, ...backupFiles]);
  const plan = makePlan(desiredOf(mailFiles), converged(withBackup));

  it('the swap keeps each removed file in the backup, then removes it; rollback puts it back', () => {
    const swap = swapScript('/var/lib/mailrig/stage-1', '/var/lib/mailrig/backup/1', plan);
    assert.ok(syntaxOk(swap), swap);
    assert.match(swap, /if \[ -e \/etc\/cron\.d\/mailrig-backup \]; then install -d -m 0700 \/var\/lib\/mailrig\/backup\/1\/files\/etc\/cron\.d; cp -a \/etc\/cron\.d\/mailrig-backup \/var\/lib\/mailrig\/backup\/1\/files\/etc\/cron\.d\/mailrig-backup; rm -f \/etc\/cron\.d\/mailrig-backup; fi/);
    assert.match(rollbackScript('/var/lib/mailrig/backup/1', plan), /cp -a \/var\/lib\/mailrig\/backup\/1\/files\/\. \//);
  });

  it('validation sees the removals', () => {
    assert.deepEqual(stagedDirs(plan.changes, plan.removals), ['/etc/cron.d', '/etc/systemd/system', '/usr/local/sbin', '/var/lib/mailrig/state']);
    const v = validateScript('/s', plan, []);
    assert.ok(syntaxOk(v), v);
    assert.match(v, /rm -f \/s\/view\/etc\/cron\.d\/mailrig-backup/);
  });

  it('validation copies a staged file over a live symlink without writing through it (/etc/resolv.conf)', () => {
    const t = scratchDir('mailrig-validate-');
    const live = join(t, 'live/etc');
    const target = join(t, 'run/stub-resolv.conf');
    mkdirSync(live, { recursive: true });
    mkdirSync(join(t, 'run'));
    writeFileSync(target, 'nameserver 127.0.0.53\n');
    symlinkSync(target, join(live, 'resolv.conf'));
    const rendered = file(join(live, 'resolv.conf'), 'unbound');
    const symlinked = makePlan(desiredOf([rendered]), converged(desiredOf([])));
    const stage = join(t, 'stage');
    mkdirSync(join(stage, 'files', live), { recursive: true });
    writeFileSync(join(stage, 'files', rendered.path), rendered.content);
    // The copies before the private mount namespace: they run on the live system.
    const script = validateScript(stage, symlinked, []);
    const r = spawnSync('sh', ['-c', script.slice(0, script.indexOf('\nunshare '))], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(target, 'utf8'), 'nameserver 127.0.0.53\n', "the symlink's target is untouched");
    assert.equal(readFileSync(join(stage, 'view', rendered.path), 'utf8'), rendered.content, 'the view holds the staged file');
  });

  it('schedules: enable after a daemon-reload, disable tolerates a unit already gone, cron made to run', () => {
    const enable = scheduleScript({ kind: 'schedule', action: 'enable', unit: 'mailrig-backup', init: 'systemd', because: '' });
    const disable = scheduleScript({ kind: 'schedule', action: 'disable', unit: 'mailrig-backup', init: 'systemd', because: '' });
    const cron = scheduleScript({ kind: 'schedule', action: 'enable', unit: 'mailrig-backup', init: 'sysv', because: '' });
    for (const s of [enable, disable, cron]) assert.ok(syntaxOk(s), s);
    assert.equal(enable, 'systemctl daemon-reload && systemctl enable --now mailrig-backup.timer');
    assert.match(disable, /^systemctl disable --now mailrig-backup\.timer/);
    assert.match(cron, /^pgrep -x cron >\/dev\/null \|\| service cron start/);
  });

  it('the backup repository: opened or created, then recorded for the next plan', () => {
    const s = repositoryScript('sftp:backup@example.net:/srv/restic');
    assert.ok(syntaxOk(s), s);
    assert.match(s, /restic init/);
    assert.ok(s.includes(`> ${REPOSITORY_MARKER}`));
    assert.equal(taskScript({ kind: 'certificate', directoryUrl: 'x', reason: 'y' }), undefined, 'the certificate is requested from here, not by a script');
  });
});
