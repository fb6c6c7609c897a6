// nginx: ACME HTTP-01, MTA-STS policies, client autoconfiguration, and the rspamd web interface.
import { renderNginx } from '../render/nginx.js';
import { renderWeb } from '../render/web.js';
import type { ServiceDescriptor } from './types.js';

export const nginx: ServiceDescriptor = {
  name: 'nginx',
  // Only where the mailboxes are: a backup MX takes no logins and stores no mail.
  roles: ['primary'],
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
