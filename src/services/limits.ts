// Sending limits: the job that mails the admin one notice per limited user and day. The limits
// themselves are rspamd's (see render/limits.ts); redis-cli comes with redis-server.
import { MAILBOX_ROLES } from '../config/model.js';
import { LIMIT_NOTICE_UNIT, renderLimitNotice } from '../render/limits.js';
import type { ServiceDescriptor } from './types.js';

export const limits: ServiceDescriptor = {
  name: 'limits',
  // Where users send: the primary and the standby (rspamd there counts the same limits once users
  // log in to it after a failover). A backup MX takes no logins.
  roles: MAILBOX_ROLES,
  packages: (_config, host) => (host.init === 'sysv' ? ['cron'] : []),
  render: renderLimitNotice,
  schedule: { unit: LIMIT_NOTICE_UNIT },
};
