// The renewal agent: renews the CA-issued certificate on the host, daily, on the release's own
// Node.js (cron runs it where systemd is not PID 1). Absent with tls.acme: self-signed. Its files
// (tagged with this name) depend on the host's init system and on the bundle built at run time, so
// the pipeline makes them once the facts are in (pipeline/acme.ts agentFileSpecs) instead of render.
import type { ServiceDescriptor } from './types.js';

export const acmeAgent: ServiceDescriptor = {
  name: 'mailrig-agent',
  // The primary only: it holds the CA-issued certificate; the other hosts serve the key store's
  // self-signed one for their own names (same key, same TLSA); a failover moves the agent along.
  roles: ['primary'],
  packages: (config, host) => (config.tls.acme !== 'self-signed' ? ['nodejs', ...(host.init === 'sysv' ? ['cron'] : [])] : []),
  schedule: { unit: 'mailrig-agent' },
};
