// fail2ban: bans password guessers found in the Postfix and Dovecot logs; nftables does the blocking.
import { renderFail2ban } from '../render/fail2ban.js';
import type { ServiceDescriptor } from './types.js';

export const fail2ban: ServiceDescriptor = {
  name: 'fail2ban',
  packages: () => ['fail2ban', 'nftables'],
  render: renderFail2ban,
  daemon: {
    unit: 'fail2ban',
    mainProcess: 'fail2ban-server',
    validate: 'fail2ban-client -t >/dev/null',
    ports: () => [],
    consumesTls: false,
  },
};
