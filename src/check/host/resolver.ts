// The local resolver: unbound answers on 127.0.0.1 (the host asks it for the mail host name), and
// /etc/resolv.conf names it first with trust-ad, so Postfix's lookups go through it and see its
// DNSSEC verdict. With forwarders serving a private tree the root may not resolve: an answer at
// all (NOERROR or NXDOMAIN) is what "up" means here; SERVFAIL means it cannot resolve the name.
import type { CheckFacts } from '../../host/facts-check.js';
import type { Facts } from '../../host/facts.js';
import { RESOLVER_ADDRESS } from '../../render/unbound.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, warn, type Check, type CheckResult } from '../types.js';
import { onHost, withHost } from './view.js';

/** Pure: the resolver's answer to the host's query for `name`. */
export function judgeResolver(name: string, check: CheckFacts, facts: Facts, start: string): CheckResult {
  const head = { id: 'host.resolver', section: 'host' as const, subject: 'resolver (unbound)' };
  const probe = check.resolver;
  if (!probe.answered) {
    const running = facts.services['unbound'] !== undefined ? 'unbound runs, but ' : '';
    return fail(
      head,
      `resolver down: ${running}nothing answers DNS on ${RESOLVER_ADDRESS}:53 (${probe.error ?? 'no answer'}); outbound mail waits, DANE cannot be checked`,
      `mailrig apply starts unbound (or ${start}); if it stops again, read its log (journalctl -u unbound)`,
    );
  }
  if (probe.rcode === 'SERVFAIL') {
    return warn(
      head,
      `answers, but cannot resolve ${name} (SERVFAIL): its upstream does not answer, or DNSSEC validation failed`,
      'journalctl -u unbound names the zone and the reason (val-log-level 2); check resolver.forwarders and resolver.trust_anchors',
    );
  }
  const validated = probe.authenticated ? 'DNSSEC-validated' : 'not DNSSEC-signed';
  return ok(head, `answers on ${RESOLVER_ADDRESS}:53 (${name}: ${probe.rcode ?? 'NOERROR'}, ${validated})`);
}

/** Pure: /etc/resolv.conf sends lookups to the local resolver first and passes its AD bit on. */
export function judgeResolvConf(lines: string[]): CheckResult {
  const head = { id: 'host.resolv-conf', section: 'host' as const, subject: '/etc/resolv.conf' };
  const servers = lines.flatMap((l) => /^nameserver\s+(\S+)/.exec(l)?.[1] ?? []);
  const options = lines.flatMap((l) => (/^options\s/.test(l) ? l.split(/\s+/).slice(1) : []));
  const fix = 'mailrig apply writes it again; find what rewrote it (a DHCP client, resolvconf, systemd-resolved, cloud-init manage_resolv_conf)';
  if (servers[0] !== RESOLVER_ADDRESS) {
    return fail(head, `names ${servers[0] ?? 'no nameserver'} first, not ${RESOLVER_ADDRESS}: lookups bypass the validating resolver, so no DANE`, fix);
  }
  if (!options.includes('trust-ad')) return fail(head, 'lacks "options trust-ad": glibc clears the AD bit, so Postfix never sees a validated answer (no DANE)', fix);
  const rest = servers.slice(1);
  if (rest.length) {
    // glibc asks the next nameserver whenever unbound answers SERVFAIL, which is its answer to a
    // forged signature: a bogus TLSA record would then pass for "no TLSA" (docs/SECURITY.md).
    return warn(
      head,
      `${RESOLVER_ADDRESS} first, but also names ${rest.join(', ')}: when unbound refuses a forged DNSSEC answer, lookups go on to ${rest.length === 1 ? 'it' : 'them'} and DANE can be bypassed`,
      fix,
    );
  }
  return ok(head, `${RESOLVER_ADDRESS} alone, trust-ad`);
}

export const resolver: Check<CheckEnv> = {
  section: 'host',
  name: 'resolver',
  run: (env) =>
    withHost(env, (view) => {
      const start = onHost(env, view.facts.init === 'systemd' ? 'systemctl start unbound' : 'service unbound start');
      return [judgeResolver(env.config.server.hostname, view.check, view.facts, start), judgeResolvConf(view.check.resolvConf)];
    }),
};
