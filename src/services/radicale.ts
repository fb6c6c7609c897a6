// Radicale: calendars and contacts, optional (dav: radicale). Debian's unit runs it as its own user;
// the package leaves it disabled, so apply enables it when it starts it, and switching dav off
// stops and disables it, removes mailrig's files and keeps the collections (apply --purge deletes
// them while dav is off).
import { davEnabled, RADICALE, RADICALE_PLUGIN_MODULE, renderRadicale } from '../render/radicale.js';
import type { ServiceDescriptor } from './types.js';

export const radicale: ServiceDescriptor = {
  name: 'radicale',
  // The primary only: its stored data (calendars, webmail settings) is not replicated to a standby.
  roles: ['primary'],
  enabled: davEnabled,
  packages: (config) => (davEnabled(config) ? ['radicale'] : []),
  render: renderRadicale,
  daemon: {
    unit: 'radicale',
    mainProcess: 'radicale',
    // Parses the configuration and checks the stored collections (as radicale: a lock file made by
    // root would lock it out), and imports mailrig's auth plugin. Nothing to check once dav is
    // switched off and the configuration is gone.
    validate: [
      `[ ! -e ${RADICALE.config} ] || {`,
      `runuser -u ${RADICALE.user} -- radicale --config ${RADICALE.config} --verify-storage >/dev/null &&`,
      `PYTHONDONTWRITEBYTECODE=1 python3 -c 'import ${RADICALE_PLUGIN_MODULE}'; }`,
    ].join(' '),
    ports: (config) => (davEnabled(config) ? [RADICALE.port] : []),
    consumesTls: false,
  },
  data: [{ path: RADICALE.collections, what: 'calendars and contacts' }],
};
