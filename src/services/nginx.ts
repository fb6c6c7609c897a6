// nginx: ACME HTTP-01, MTA-STS policies, client autoconfiguration, and the rspamd web interface.
import { MAILBOX_ROLES } from '../config/model.js';
import { renderNginx } from '../render/nginx.js';
import { renderWeb } from '../render/web.js';
import type { ServiceDescriptor } from './types.js';

export const nginx: ServiceDescriptor = {
  name: 'nginx',
  // The mail host's pages (MTA-STS policy, client autoconfig, ACME challenges) where the mailboxes
  // are: the primary and the standby, which serves them under its own name and after a failover.
  roles: MAILBOX_ROLES,
  packages: () => ['nginx'],
  render: (ctx) => [...renderNginx(ctx), ...renderWeb(ctx)],
  daemon: {
    unit: 'nginx',
    mainProcess: 'nginx',
    validate: 'nginx -t -q',
    ports: () => [80, 443],
    tlsPorts: [{ port: 443, mode: 'implicit', name: 'https', label: 'HTTPS' }],
    consumesTls: true,
  },
};
