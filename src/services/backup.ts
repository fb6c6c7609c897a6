// Backups: restic on the host, its environment and password, the backup script and its daily
// schedule (cron runs it where systemd is not PID 1). Absent without a backup: section.
import { BACKUP_UNIT } from '../backup/restic.js';
import { renderBackup } from '../render/backup.js';
import type { ServiceDescriptor } from './types.js';

export const backup: ServiceDescriptor = {
  name: 'backup',
  // The primary only: the standby holds a replica of the same mail, and one repository holds one
  // host's snapshots; after a failover the new primary takes the schedule over.
  roles: ['primary'],
  packages: (config, host) => (config.backup ? ['restic', ...(host.init === 'sysv' ? ['cron'] : [])] : []),
  render: renderBackup,
  schedule: { unit: BACKUP_UNIT },
};
