// fail2ban: bans password guessers found in the Postfix and Dovecot logs (and Radicale's, with dav);
// nftables does the blocking.
import { renderFail2ban } from '../render/fail2ban.js';
import { davEnabled } from '../render/radicale.js';
import type { ServiceDescriptor } from './types.js';

export const fail2ban: ServiceDescriptor = {
  name: 'fail2ban',
  // Only where the mailboxes are: a backup MX takes no logins and stores no mail.
  roles: ['primary'],
  // python3-systemd: fail2ban's journal backend, for the jail on Radicale's log (dav: radicale).
  packages: (config) => ['fail2ban', 'nftables', ...(davEnabled(config) ? ['python3-systemd'] : [])],
  render: renderFail2ban,
  daemon: {
    unit: 'fail2ban',
    mainProcess: 'fail2ban-server',
    validate: 'fail2ban-client -t >/dev/null',
    ports: () => [],
    consumesTls: false,
  },
};
