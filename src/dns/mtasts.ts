// The MTA-STS policy (RFC 8461) each mail domain serves at https://mta-sts.<domain>/.well-known/mta-sts.txt,
// and the id its _mta-sts TXT record carries. The id is derived from the policy text, so it changes
// exactly when the policy does — senders refetch then, and only then.
import { createHash } from 'node:crypto';
import { mxHosts, type Config } from '../config/model.js';

/** One week: long enough to protect, short enough to recover from a mistake. */
export const MTA_STS_MAX_AGE = 604800;

export function mtaStsPolicy(config: Config): string {
  const mx = mxHosts(config).map((s) => `mx: ${s.hostname}`);
  return ['version: STSv1', 'mode: enforce', ...mx, `max_age: ${MTA_STS_MAX_AGE}`, ''].join('\r\n');
}

export function mtaStsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}
