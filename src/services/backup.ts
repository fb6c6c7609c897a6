// Backups: restic on the host, its environment and password, the backup script and its daily
// schedule (cron runs it where systemd is not PID 1). Absent without a backup: section.
import { BACKUP_UNIT } from '../backup/restic.js';
import { renderBackup } from '../render/backup.js';
import type { ServiceDescriptor } from './types.js';

export const backup: ServiceDescriptor = {
  name: 'backup',
  // Only where the mailboxes are: a backup MX takes no logins and stores no mail.
  roles: ['primary'],
  packages: (config, host) => (config.backup ? ['restic', ...(host.init === 'sysv' ? ['cron'] : [])] : []),
  render: renderBackup,
  schedule: { unit: BACKUP_UNIT },
};
