// MTA-STS for outbound mail: Debian's mta-sts-daemon, which fetches the policies, and mailrig's
// front, which Postfix asks and which lets DANE win where a destination has both (render/mta-sts.ts).
import {
  MTA_STS_CONF,
  MTA_STS_ON_DEMAND_UNIT,
  MTA_STS_UNIT,
  STS_FRONT_PROCESS,
  STS_FRONT_SCRIPT,
  STS_FRONT_UNIT,
  STS_PORTS,
  renderMtaSts,
  renderStsFront,
} from '../render/mta-sts.js';
import type { ServiceDescriptor } from './types.js';

export const mtaSts: ServiceDescriptor = {
  name: 'mta-sts',
  packages: () => ['postfix-mta-sts-resolver'],
  render: renderMtaSts,
  daemon: {
    unit: MTA_STS_UNIT,
    mainProcess: 'mta-sts-daemon',
    // No check mode: the package's own loader reads the file (YAML, with its defaults filled in).
    validate: `python3 -c 'import sys; from postfix_mta_sts_resolver.utils import load_config; load_config(sys.argv[1])' ${MTA_STS_CONF}`,
    ports: () => [STS_PORTS.daemon],
    consumesTls: false,
    // With systemd: a socket on its port, systemd's proxy behind it, which starts the daemon (on
    // another loopback port) and exits idle, the daemon with it. The package's own start at boot is
    // disabled; the daemon and the proxy are stopped so that the next connection reads the new files.
    onDemandWithSystemd: {
      socket: `${MTA_STS_ON_DEMAND_UNIT}.socket`,
      start: [
        `systemctl disable --quiet ${MTA_STS_UNIT}.service`,
        `systemctl stop ${MTA_STS_ON_DEMAND_UNIT}.socket ${MTA_STS_ON_DEMAND_UNIT}.service ${MTA_STS_UNIT}.service`,
        `systemctl enable --now --quiet ${MTA_STS_ON_DEMAND_UNIT}.socket`,
      ].join(' && '),
    },
  },
};

export const stsFront: ServiceDescriptor = {
  name: 'sts-front',
  // Python's standard library only (python3 comes with postfix-mta-sts-resolver too).
  packages: () => ['python3'],
  render: renderStsFront,
  daemon: {
    unit: STS_FRONT_UNIT,
    mainProcess: STS_FRONT_PROCESS,
    // The script parses and its modules load.
    validate: `${STS_FRONT_SCRIPT} --check`,
    ports: () => [STS_PORTS.front],
    consumesTls: false,
    // With systemd: started at the first connection to its socket, it exits idle (see its script).
    onDemandWithSystemd: {
      socket: `${STS_FRONT_UNIT}.socket`,
      start: [`systemctl stop ${STS_FRONT_UNIT}.socket ${STS_FRONT_UNIT}.service`, `systemctl enable --now --quiet ${STS_FRONT_UNIT}.socket`].join(' && '),
    },
  },
};
