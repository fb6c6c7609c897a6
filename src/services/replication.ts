// The standby replica's replication (render/replication.ts): the primary's side, a scheduled job
// that runs `doveadm sync` over SSH every minute (cron runs it where systemd is not PID 1), and the
// standby's side, the SSH key and the wrapper that let the primary run only dsync's server there.
// Both exist only while mailrig.yaml lists a standby.
import { standbyOf } from '../config/model.js';
import { REPLICATION_UNIT, renderReplicationSource, renderReplicationTarget } from '../render/replication.js';
import type { ServiceDescriptor } from './types.js';

export const replication: ServiceDescriptor = {
  name: 'replication',
  // The primary pushes (and pulls: the sync is two-way); a failover swaps the roles and with them this job.
  roles: ['primary'],
  enabled: (config) => standbyOf(config) !== undefined,
  packages: (config, host) => (standbyOf(config) ? ['openssh-client', ...(host.init === 'sysv' ? ['cron'] : [])] : []),
  render: renderReplicationSource,
  schedule: { unit: REPLICATION_UNIT },
};

export const replica: ServiceDescriptor = {
  name: 'replica',
  roles: ['standby'],
  // sshd serves the primary's dsync (a standby mailrig reaches over SSH has it already).
  packages: () => ['openssh-server'],
  render: renderReplicationTarget,
};
