// Backups: restic on the host. Rendered only when mailrig.yaml has a backup section — the
// root-only environment and password, the backup script, and its daily schedule in both forms: a
// systemd timer and a cron entry that steps aside where systemd is PID 1. Rendering cannot know the
// host's init system (it is a fact, learned later); both forms are inert files until activated, and
// backup/schedule.ts activates the one that applies after each apply.
import { KeyStoreError } from '../errors.js';
import {
  BACKUP_ENV,
  BACKUP_LOG,
  BACKUP_PATHS,
  BACKUP_SCRIPT,
  BACKUP_UNIT,
  PASSWORD_FILE,
  backupArgs,
  envFileLines,
  forgetArgs,
  restic,
} from '../backup/restic.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import type { FileSpec } from './types.js';

export const BACKUP_SCHEDULE_FILES = {
  service: `/etc/systemd/system/${BACKUP_UNIT}.service`,
  timer: `/etc/systemd/system/${BACKUP_UNIT}.timer`,
  cron: `/etc/cron.d/${BACKUP_UNIT}`,
};

const pad = (n: number) => String(n).padStart(2, '0');

export function renderBackup(ctx: RenderContext): FileSpec[] {
  const { backup, server } = ctx.config;
  if (!backup) return [];
  const secrets = ctx.keys.backup;
  if (!secrets) throw new KeyStoreError(`${ctx.keys.dir}: no restic password yet; run mailrig backup init`);
  const schedule = `${pad(backup.schedule.hour)}:${pad(backup.schedule.minute)}`;
  const retention = { daily: backup.keepDaily, weekly: backup.keepWeekly, monthly: backup.keepMonthly };
  // 'mailrig' files with onChange 'none': nothing to reload, the script reads them at each run.
  const file = (path: string, content: string, mode: string, secret: boolean): FileSpec => ({
    path,
    content,
    mode,
    owner: 'root',
    group: 'root',
    service: 'mailrig',
    onChange: 'none',
    secret,
  });
  const hasCredentials = Object.keys(secrets.env).length > 0;
  return [
    file(BACKUP_ENV, renderTemplate('backup/backup.env.hbs', { script: BACKUP_SCRIPT, lines: envFileLines(backup.repository, secrets.env) }), '0600', hasCredentials),
    file(PASSWORD_FILE, `${secrets.password}\n`, '0600', true),
    file(
      BACKUP_SCRIPT,
      renderTemplate('backup/mailrig-backup.hbs', {
        schedule,
        unit: BACKUP_UNIT,
        env: BACKUP_ENV,
        paths: BACKUP_PATHS.join(' '),
        backup: restic(backupArgs(server.hostname)),
        forget: restic(forgetArgs(server.hostname, retention)),
      }),
      '0700',
      false,
    ),
    file(BACKUP_SCHEDULE_FILES.service, renderTemplate('backup/mailrig-backup.service.hbs', { script: BACKUP_SCRIPT }), '0644', false),
    file(BACKUP_SCHEDULE_FILES.timer, renderTemplate('backup/mailrig-backup.timer.hbs', { schedule }), '0644', false),
    file(
      BACKUP_SCHEDULE_FILES.cron,
      renderTemplate('backup/cron.hbs', {
        schedule,
        unit: BACKUP_UNIT,
        logFile: BACKUP_LOG,
        script: BACKUP_SCRIPT,
        minute: backup.schedule.minute,
        hour: backup.schedule.hour,
      }),
      '0644',
      false,
    ),
  ];
}
