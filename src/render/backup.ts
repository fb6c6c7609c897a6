// Backups: restic on the host. Rendered only when mailrig.yaml has a backup section — the root-only
// environment and password, the backup script, and its daily schedule in both forms: a systemd timer
// and a cron entry that steps aside where systemd is PID 1. Rendering cannot know the host's init
// system (it is a fact, learned later); both forms are inert files until the plan's schedule
// operation enables the timer or makes cron run.
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
import { filesOf, type FileSpec } from './types.js';

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
  // Nothing to reload: the script reads them at each run; the plan enables the schedule.
  const file = filesOf('backup');
  const hasCredentials = Object.keys(secrets.env).length > 0;
  return [
    file(BACKUP_ENV, renderTemplate('backup/backup.env.hbs', { script: BACKUP_SCRIPT, lines: envFileLines(backup.repository, secrets.env) }), { mode: '0600', secret: hasCredentials }),
    file(PASSWORD_FILE, `${secrets.password}\n`, { mode: '0600', secret: true }),
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
      { mode: '0700' },
    ),
    file(BACKUP_SCHEDULE_FILES.service, renderTemplate('backup/mailrig-backup.service.hbs', { script: BACKUP_SCRIPT })),
    file(BACKUP_SCHEDULE_FILES.timer, renderTemplate('backup/mailrig-backup.timer.hbs', { schedule })),
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
    ),
  ];
}
