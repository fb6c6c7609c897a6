// Postfix: the MTA on 25 (postscreen), 465 and 587, with LMDB lookup tables.
import { renderPostfix } from '../render/postfix.js';
import { relays } from '../config/model.js';
import type { ServiceDescriptor } from './types.js';

export const postfix: ServiceDescriptor = {
  name: 'postfix',
  // Postfix logs in to a relay through Cyrus SASL, whose PLAIN and LOGIN mechanisms are a package of their own.
  packages: (config) => ['postfix', 'postfix-lmdb', ...(relays(config).some((r) => r.username !== undefined) ? ['libsasl2-modules'] : [])],
  render: renderPostfix,
  daemon: {
    unit: 'postfix',
    mainProcess: 'master',
    // postconf prints warnings (unknown or deprecated parameters) on stderr without failing: fail on them.
    validate: `w=$(postconf -n 2>&1 >/dev/null); if [ -n "$w" ]; then echo "$w" >&2; exit 1; fi; postfix check`,
    // A backup MX takes no logins: port 25 only.
    ports: (config) => (config.server.role === 'backup-mx' ? [25] : [25, 465, 587]),
    tlsPorts: [
      { port: 25, mode: 'smtp', name: 'smtp', label: 'SMTP' },
      { port: 465, mode: 'implicit', name: 'submissions', label: 'submission (TLS)' },
      { port: 587, mode: 'smtp', name: 'submission', label: 'submission (STARTTLS)' },
    ],
    consumesTls: true,
  },
};
