// Dovecot: IMAP, ManageSieve, LMTP delivery from Postfix, SASL for submission; POP3 when enabled.
import { MAILBOX_ROLES } from '../config/model.js';
import { renderDovecot } from '../render/dovecot.js';
import type { ServiceDescriptor } from './types.js';

export const dovecot: ServiceDescriptor = {
  name: 'dovecot',
  // Where the mailboxes are: the primary, and the standby that holds their replica and takes over
  // at a failover (it must be ready to serve logins then). A backup MX takes no logins, stores no mail.
  roles: MAILBOX_ROLES,
  packages: (config) => [
    'dovecot-core',
    'dovecot-imapd',
    'dovecot-lmtpd',
    'dovecot-sieve',
    'dovecot-managesieved',
    ...(config.mail.pop3 ? ['dovecot-pop3d'] : []),
  ],
  render: renderDovecot,
  daemon: {
    unit: 'dovecot',
    mainProcess: 'dovecot',
    validate: 'doveconf -n >/dev/null',
    ports: (config) => [143, 993, 4190, ...(config.mail.pop3 ? [995] : [])],
    tlsPorts: [{ port: 993, mode: 'implicit', name: 'imaps', label: 'IMAPS' }],
    consumesTls: true,
  },
};
