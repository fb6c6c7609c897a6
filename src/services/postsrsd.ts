// postsrsd: rewrites the envelope sender of forwarded mail (SRS) and reverses bounces to it. On every
// host, whether or not an alias forwards today: a catch-all, a mailbox's Sieve redirect or a later
// alias forwards too, and a small daemon costs less than mail that fails SPF once it does.
import { MAILBOX_ROLES } from '../config/model.js';
import { renderPostsrsd, POSTSRSD_DEFAULTS, SRS_PORTS } from '../render/postsrsd.js';
import type { ServiceDescriptor } from './types.js';

export const postsrsd: ServiceDescriptor = {
  name: 'postsrsd',
  // Where mail is delivered and sent: the primary and the standby (whose Postfix is the primary's,
  // ready for a failover, and asks postsrsd; the key store's one secret reverses either's bounces).
  roles: MAILBOX_ROLES,
  packages: () => ['postsrsd'],
  render: renderPostsrsd,
  daemon: {
    unit: 'postsrsd',
    mainProcess: 'postsrsd',
    // postsrsd has no check mode: the file must be valid shell that names a domain and a readable secret.
    validate: `sh -n ${POSTSRSD_DEFAULTS} && (. ${POSTSRSD_DEFAULTS} && [ -n "$SRS_DOMAIN" ] && [ -s "$SRS_SECRET" ])`,
    ports: () => [SRS_PORTS.forward, SRS_PORTS.reverse],
    consumesTls: false,
  },
};
