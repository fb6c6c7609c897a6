// Sending limits: the job that mails the admin one notice per limited user and day. The limits
// themselves are rspamd's (see render/limits.ts); redis-cli comes with redis-server.
import { LIMIT_NOTICE_UNIT, renderLimitNotice } from '../render/limits.js';
import type { ServiceDescriptor } from './types.js';

export const limits: ServiceDescriptor = {
  name: 'limits',
  // Only where the mailboxes are: a backup MX takes no logins and stores no mail.
  roles: ['primary'],
  packages: (_config, host) => (host.init === 'sysv' ? ['cron'] : []),
  render: renderLimitNotice,
  schedule: { unit: LIMIT_NOTICE_UNIT },
};
