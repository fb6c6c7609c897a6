// Outbound port 25: many providers block it for new servers, and then no mail leaves. Tried from the
// host (in the same round trip as the other facts) against a few big receivers' MX hosts. A block
// looks like silence (no answer before the timeout); it is told apart from a name that does not
// resolve (the host's DNS) and from a refusal (a firewall that rejects, or nobody listening).
import { isIPv4, isIPv6, toAsciiDomain } from '../../config/syntax.js';
import type { Config } from '../../config/model.js';
import { UsageError } from '../../errors.js';
import type { OutboundProbe } from '../../host/facts-check.js';
import { showRelay } from '../../render/relay.js';
import type { CheckEnv } from '../env.js';
import { withHost } from '../host/view.js';
import { fail, ok, unknown, warn, type Check, type CheckResult } from '../types.js';

/** Large receivers' MX hosts, answering on 25 around the clock; any one answering is enough. */
export const DEFAULT_OUTBOUND_TARGETS = ['gmail-smtp-in.l.google.com:25', 'mta5.am0.yahoodns.net:25', 'outlook-com.olc.protection.outlook.com:25'];

const LDH_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * The --outbound-target values as host:port (port 25 when left out; IPv6 in brackets). The host goes
 * into the probe on the server, so only a host name, an IPv4 address or a bracketed IPv6 address
 * passes; anything else is a usage error naming the value.
 */
export function outboundTargets(given: string[] | undefined, flag = '--outbound-target'): string[] {
  if (!given?.length) return DEFAULT_OUTBOUND_TARGETS;
  return given.map((value) => {
    const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i.exec(value);
    const port = m?.[3] === undefined ? 25 : Number(m[3]);
    const v6 = m?.[1];
    const name = m?.[2] === undefined ? undefined : isIPv4(m[2]) ? m[2] : toAsciiDomain(m[2]);
    const hostOk = v6 !== undefined ? isIPv6(v6) : name !== undefined && (isIPv4(name) || LDH_NAME.test(name));
    if (!m || !hostOk || port < 1 || port > 65535) {
      throw new UsageError(`${flag} ${JSON.stringify(value)}: expected host[:port] (a host name, an IPv4 address, or [IPv6]; port 1-65535, default 25)`);
    }
    return `${v6 !== undefined ? `[${v6}]` : name}:${port}`;
  });
}

/** The relay section to add, on one line (flow YAML), for a host that cannot send on port 25. */
export const RELAY_SUGGESTION =
  'add to mailrig.yaml: relay: { default: { host: smtp.your-relay.example, port: 587, username: your-login } }; then mailrig relay password smtp.your-relay.example and mailrig apply (README: "Sending mail from a VPS that blocks port 25")';

export function judgeOutbound(probes: OutboundProbe[], config?: Pick<Config, 'relay'>): CheckResult {
  const head = { id: 'deliverability.outbound-25', section: 'deliverability' as const, subject: 'outbound port 25' };
  if (probes.length === 0) return unknown(head, 'no target to try', 'pass --outbound-target host:port');
  const reached = probes.filter((p) => p.connected);
  if (reached.length) return ok(head, `the host reached ${reached.map((p) => p.target).join(', ')}`);
  const list = probes.map((p) => `${p.target} (${p.outcome === 'blocked' ? 'no answer' : p.detail})`).join(', ');
  const relay = config?.relay?.default;
  if (probes.every((p) => p.outcome === 'no-dns')) {
    return unknown(head, `the host could not resolve ${list}`, "fix the host's DNS resolver (/etc/resolv.conf), then check again");
  }
  const blocked = probes.some((p) => p.outcome === 'blocked');
  const what = blocked ? 'blocked: the host reached none of' : 'refused: the host reached none of';
  if (relay) return warn(head, `${what} ${list}; mail to other domains goes through the default relay ${showRelay(relay)}`, 'nothing to do while every outbound message goes through the relay; ask your provider to unblock port 25 to send directly');
  return fail(
    head,
    blocked
      ? `blocked: outbound port 25 is closed (no answer from ${list}); no mail can leave this server directly`
      : `refused: ${list}; a firewall on the host or at the provider rejects outbound port 25`,
    `ask your provider to unblock outbound port 25 (many block it for new accounts), or relay: ${RELAY_SUGGESTION}`,
  );
}

export const outbound: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'outbound',
  run: (env) => withHost(env, (view) => [judgeOutbound(view.check.outbound, env.config)]),
};
