// fail2ban: bans password guessers found in the Postfix and Dovecot logs (and Radicale's, with dav);
// nftables does the blocking.
import { MAILBOX_ROLES } from '../config/model.js';
import { renderFail2ban } from '../render/fail2ban.js';
import { davEnabled } from '../render/radicale.js';
import type { ServiceDescriptor } from './types.js';

export const fail2ban: ServiceDescriptor = {
  name: 'fail2ban',
  // Where users log in: the primary and the standby (its IMAP and submission ports are open too).
  roles: MAILBOX_ROLES,
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
