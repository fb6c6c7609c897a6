// The renewal agent: renews the CA-issued certificate on the host, daily, on the release's own
// Node.js (cron runs it where systemd is not PID 1). Absent with tls.acme: self-signed. Its files
// (tagged with this name) depend on the host's init system and on the bundle built at run time, so
// the pipeline makes them once the facts are in (pipeline/acme.ts agentFileSpecs) instead of render.
import type { ServiceDescriptor } from './types.js';

export const acmeAgent: ServiceDescriptor = {
  name: 'mailrig-agent',
  // Only where the mailboxes are: a backup MX takes no logins and stores no mail.
  roles: ['primary'],
  packages: (config, host) => (config.tls.acme !== 'self-signed' ? ['nodejs', ...(host.init === 'sysv' ? ['cron'] : [])] : []),
  schedule: { unit: 'mailrig-agent' },
};
