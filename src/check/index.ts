// Every check `mailrig check` runs, in the order the table shows them.
import { blocklists } from './deliverability/blocklists.js';
import { outbound } from './deliverability/outbound.js';
import { outboundTls } from './deliverability/outbound-tls.js';
import { relay } from './deliverability/relay.js';
import { routes } from './deliverability/routes.js';
import { dmarc } from './dns/dmarc.js';
import { dnssec } from './dns/dnssec.js';
import { ptr } from './dns/ptr.js';
import { records } from './dns/records.js';
import { spf } from './dns/spf.js';
import type { CheckEnv } from './env.js';
import { hostAccess } from './host/access.js';
import { daemons } from './host/daemons.js';
import { drift } from './host/drift.js';
import { ports } from './host/ports.js';
import { queue } from './host/queue.js';
import { resolver } from './host/resolver.js';
import { resources } from './host/resources.js';
import { sshLogin } from './host/ssh.js';
import { updates } from './host/updates.js';
import { certificates } from './tls/certificate.js';
import { mtaSts } from './tls/mtasts.js';
import { protocols } from './tls/protocol.js';
import { tlsa } from './tls/tlsa.js';
import type { Check } from './types.js';

export const CHECKS: Array<Check<CheckEnv>> = [
  hostAccess,
  daemons,
  ports,
  resolver,
  queue,
  resources,
  updates,
  sshLogin,
  drift,
  records,
  ptr,
  dnssec,
  spf,
  dmarc,
  certificates,
  tlsa,
  protocols,
  mtaSts,
  blocklists,
  outbound,
  outboundTls,
  routes,
  relay,
];
