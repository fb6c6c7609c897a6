// unbound: the local DNSSEC-validating resolver on loopback, for Postfix's DANE, rspamd's blocklists
// and the host's own lookups. Started first: everything after it resolves names through it.
import { RESOLVER_PORT, UNBOUND_CONF, renderUnbound } from '../render/unbound.js';
import type { ServiceDescriptor } from './types.js';

export const unbound: ServiceDescriptor = {
  name: 'unbound',
  // dns-root-data is only recommended by unbound (mailrig installs without recommends): the root key.
  packages: () => ['unbound', 'dns-root-data'],
  render: renderUnbound,
  daemon: {
    unit: 'unbound',
    mainProcess: 'unbound',
    validate: `unbound-checkconf ${UNBOUND_CONF}`,
    ports: () => [RESOLVER_PORT],
    consumesTls: false,
  },
};
