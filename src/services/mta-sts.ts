// MTA-STS for outbound mail: Debian's mta-sts-daemon, which fetches the policies, and mailrig's
// front, which Postfix asks and which lets DANE win where a destination has both (render/mta-sts.ts).
import { MTA_STS_CONF, STS_FRONT_PROCESS, STS_FRONT_SCRIPT, STS_FRONT_UNIT, STS_PORTS, renderMtaSts, renderStsFront } from '../render/mta-sts.js';
import type { ServiceDescriptor } from './types.js';

export const mtaSts: ServiceDescriptor = {
  name: 'mta-sts',
  packages: () => ['postfix-mta-sts-resolver'],
  render: renderMtaSts,
  daemon: {
    unit: 'postfix-mta-sts-resolver',
    mainProcess: 'mta-sts-daemon',
    // No check mode: the package's own loader reads the file (YAML, with its defaults filled in).
    validate: `python3 -c 'import sys; from postfix_mta_sts_resolver.utils import load_config; load_config(sys.argv[1])' ${MTA_STS_CONF}`,
    ports: () => [STS_PORTS.daemon],
    consumesTls: false,
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
  },
};
