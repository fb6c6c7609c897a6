// Which way each domain's outbound mail leaves (directly or through a relay), and for each relay,
// whether it takes the login: the newest delivery line of the relay transports in Postfix's log
// names the cause when it does not ("SASL authentication failed", a certificate that fails to verify).
import { relayKey, relays, type Relay } from '../../config/model.js';
import { routingLines, showRelay } from '../../render/relay.js';
import type { CheckEnv } from '../env.js';
import { withHost } from '../host/view.js';
import { fail, ok, type Check, type CheckResult } from '../types.js';

export function routeResults(config: CheckEnv['config']): CheckResult[] {
  return routingLines(config).map((line) => {
    const [subject, how] = [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)];
    return ok({ id: `deliverability.route.${subject.replace(/^mail (from|to) /, '$1:').replace(/, from any domain$/, '')}`, section: 'deliverability', subject }, how);
  });
}

/** The newest log line about `r` decides: sent, or the reason it was not. */
export function judgeRelayLog(r: Relay, log: string[]): CheckResult {
  const head = { id: `deliverability.relay-login.${relayKey(r)}`, section: 'deliverability' as const, subject: `relay ${r.host}:${r.port}` };
  const at = `relay=${r.host}[`;
  const about = log.filter((l) => l.includes(at) && l.slice(l.indexOf(at)).split(',')[0]?.endsWith(`]:${r.port}`));
  const last = about[about.length - 1];
  if (last === undefined) return ok(head, `no mail through ${showRelay(r)} in the log yet`);
  if (/status=sent/.test(last)) return ok(head, `takes mail: the newest message through it was sent`);
  const said = /\((.*)\)\s*$/.exec(last)?.[1] ?? last;
  if (/SASL authentication failed/.test(last)) {
    return fail(head, `the relay rejects the login ${r.username ?? ''}: ${said}`, `set the right password with mailrig relay password ${r.host} (and username in mailrig.yaml), then mailrig apply; deferred mail goes out on its next try`);
  }
  if (/certificate|verif/i.test(said)) return fail(head, `TLS to the relay fails: ${said}`, `the relay's certificate must be valid for ${r.host} (relay.ca_file for a private CA)`);
  return fail(head, `mail through it is not getting out: ${said}`, 'see /var/log/postfix.log on the host (postfix/smarthost lines)');
}

export const routes: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'routes',
  async run(env) {
    const results = routeResults(env.config);
    const list = relays(env.config);
    if (list.length === 0) return results;
    return [...results, ...(await withHost(env, ({ check }) => list.map((r) => judgeRelayLog(r, check.relayLog))))];
  },
};
