// Outbound port 25: many providers block it for new servers, and then no mail leaves. Tried from the
// host (in the same round trip as the other facts) against a few big receivers' MX hosts.
import type { OutboundProbe } from '../../host/facts-check.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

/** Large receivers' MX hosts, answering on 25 around the clock; any one answering is enough. */
export const DEFAULT_OUTBOUND_TARGETS = ['gmail-smtp-in.l.google.com:25', 'mta5.am0.yahoodns.net:25', 'outlook-com.olc.protection.outlook.com:25'];

export function judgeOutbound(probes: OutboundProbe[]): CheckResult {
  const head = { id: 'deliverability.outbound-25', section: 'deliverability' as const, subject: 'outbound port 25' };
  if (probes.length === 0) return unknown(head, 'no target to try', 'pass --outbound-target host:port');
  const reached = probes.filter((p) => p.connected);
  if (reached.length) return ok(head, `the host reached ${reached.map((p) => p.target).join(', ')}`);
  return fail(
    head,
    `the host reached none of ${probes.map((p) => `${p.target} (${p.detail})`).join(', ')}`,
    'ask your provider to unblock outbound port 25 (many block it for new accounts), or relay through a smarthost',
  );
}

export const outbound: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'outbound',
  async run(env) {
    const access = await env.host;
    if (!access.ok) return [];
    return [judgeOutbound(access.view.check.outbound)];
  },
};
