// Reverse DNS of each server address names the mail host, and the host name resolves back to the
// address (forward-confirmed reverse DNS): receivers check both before they trust a sender.
//
// A broken verdict is confirmed before it is reported: the reverse and forward lookups are made a
// second time. One lost or garbled answer, or a provider whose name servers have not all caught up
// with a PTR just set, must not read as "broken". Both lookups broken: fail (the second's reason);
// the second one fine, or not answered: could not check, with what each found.
import { absolute, canonicalName, compressIPv6, reverseName } from '../../dns/names.js';
import type { DnsResolver } from '../../dns/resolver.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

type Head = Pick<CheckResult, 'id' | 'section' | 'subject'>;

/** One pass of the reverse and forward lookups. */
async function lookPtr(head: Head, ip: string, hostname: string, resolver: DnsResolver): Promise<CheckResult> {
  const v6 = ip.includes(':');
  const fix = `set the reverse DNS of ${ip} to ${hostname} at your hosting provider (not in your own zone)`;
  const ptr = await resolver.lookup(reverseName(ip), 'PTR');
  if (ptr.status === 'error') return unknown(head, `${reverseName(ip)}: ${ptr.error ?? 'no answer'}`, 'retry; check --resolver');
  const names = ptr.records.map((r) => canonicalName(r.value));
  if (names.length === 0) return fail(head, 'no reverse DNS', fix);
  if (!names.includes(canonicalName(hostname))) return fail(head, `points to ${names.join(', ')}, not ${hostname}`, fix);
  const forward = await resolver.lookup(absolute(hostname).replace(/\.$/, ''), v6 ? 'AAAA' : 'A');
  if (forward.status === 'error') return unknown(head, `${hostname} ${v6 ? 'AAAA' : 'A'}: ${forward.error ?? 'no answer'}`, 'retry; check --resolver');
  const back = forward.records.map((r) => (v6 ? compressIPv6(r.value) : r.value));
  if (!back.includes(v6 ? compressIPv6(ip) : ip)) {
    return fail(head, `${hostname} does not resolve back to ${ip} (${back.join(', ') || 'no address'})`, `publish ${hostname}. ${v6 ? 'AAAA' : 'A'} ${ip}`);
  }
  return ok(head, `${hostname}, which resolves back to it`);
}

export async function checkPtr(ip: string, hostname: string, resolver: DnsResolver): Promise<CheckResult> {
  const head = { id: `dns.ptr.${ip}`, section: 'dns' as const, subject: `PTR ${ip}` };
  const first = await lookPtr(head, ip, hostname, resolver);
  if (first.status !== 'fail') return first;
  const second = await lookPtr(head, ip, hostname, resolver);
  if (second.status === 'fail') return second;
  const now = second.unknown ? second.message.replace(/^could not check: /, '') : 'fine';
  return unknown(
    head,
    `two lookups disagree: the first found ${first.message}, the second ${now}`,
    "run mailrig check again in a few minutes; if the answers keep changing, the provider's name servers disagree",
  );
}

export const ptr: Check<CheckEnv> = {
  section: 'dns',
  name: 'ptr',
  run: (env) => {
    const { ipv4, ipv6, hostname } = env.config.server;
    return Promise.all([ipv4, ...(ipv6 ? [ipv6] : [])].map((ip) => checkPtr(ip, hostname, env.resolver)));
  },
};
