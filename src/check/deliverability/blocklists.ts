// Spamhaus: each server address on ZEN, each mail domain on DBL. Spamhaus answers 127.255.255.x
// instead of a listing when it refuses the query (public resolver, rate limit): that is "could not
// check", never "listed". NXDOMAIN means not listed.
import { expandIPv6 } from '../../dns/names.js';
import type { DnsResolver } from '../../dns/resolver.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

export const ZEN = 'zen.spamhaus.org';
export const DBL = 'dbl.spamhaus.org';

/** The ZEN query name of an address: reversed octets, or reversed nibbles for IPv6. */
export function zenName(ip: string): string {
  if (ip.includes(':')) return `${expandIPv6(ip).replace(/:/g, '').split('').reverse().join('.')}.${ZEN}`;
  return `${ip.split('.').reverse().join('.')}.${ZEN}`;
}

const ZEN_CODES: Record<string, string> = {
  '127.0.0.2': 'SBL (spam source)',
  '127.0.0.3': 'SBL CSS (snowshoe spam)',
  '127.0.0.4': 'XBL (exploited host)',
  '127.0.0.9': 'SBL DROP',
  '127.0.0.10': 'PBL (ISP: no direct mail from this range)',
  '127.0.0.11': 'PBL (Spamhaus: dynamic range)',
};

const REFUSED = /^127\.255\.255\.\d+$/;

export type BlocklistVerdict = { kind: 'clean' } | { kind: 'listed'; codes: string[] } | { kind: 'unknown'; why: string };

/** Pure: what a lookup result means. */
export function verdict(status: string, values: string[], error: string | undefined, describe: (code: string) => string): BlocklistVerdict {
  if (status === 'nxdomain' || (status === 'nodata' && values.length === 0)) return { kind: 'clean' };
  if (status === 'error') return { kind: 'unknown', why: error ?? 'no answer' };
  const refused = values.filter((v) => REFUSED.test(v));
  if (refused.length) return { kind: 'unknown', why: `Spamhaus refused the query (${refused.join(', ')}: public or rate-limited resolver)` };
  return { kind: 'listed', codes: values.map(describe) };
}

const ASK_OWN = 'ask through a resolver of your own (not a public one), e.g. --resolver 127.0.0.1 with unbound on this machine';

export async function checkZen(ip: string, resolver: DnsResolver): Promise<CheckResult> {
  const head = { id: `deliverability.zen.${ip}`, section: 'deliverability' as const, subject: `${ip} on Spamhaus ZEN` };
  const r = await resolver.lookup(zenName(ip), 'A');
  const v = verdict(r.status, r.records.map((x) => x.value), r.error, (c) => ZEN_CODES[c] ?? c);
  if (v.kind === 'clean') return ok(head, 'not listed');
  if (v.kind === 'unknown') return unknown(head, v.why, ASK_OWN);
  return fail(head, `listed: ${v.codes.join(', ')}`, `see https://check.spamhaus.org/ for ${ip}: fix the cause, then request removal`);
}

export async function checkDbl(domain: string, resolver: DnsResolver): Promise<CheckResult> {
  const head = { id: `deliverability.dbl.${domain}`, section: 'deliverability' as const, subject: `${domain} on Spamhaus DBL` };
  const r = await resolver.lookup(`${domain}.${DBL}`, 'A');
  // DBL listings are 127.0.1.2–127.0.1.199; 127.0.1.255 is "IP queries are not supported".
  const values = r.records.map((x) => x.value);
  const v = verdict(r.status, values.filter((x) => x !== '127.0.1.255'), r.error, (c) => `code ${c}`);
  if (values.includes('127.0.1.255') && values.length === 1) return unknown(head, 'Spamhaus answered 127.0.1.255 (not a domain query)', ASK_OWN);
  if (v.kind === 'clean') return ok(head, 'not listed');
  if (v.kind === 'unknown') return unknown(head, v.why, ASK_OWN);
  return fail(head, `listed: ${v.codes.join(', ')}`, `see https://check.spamhaus.org/ for ${domain}: fix the cause, then request removal`);
}

export const blocklists: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'blocklists',
  run: (env) => {
    const { ipv4, ipv6 } = env.config.server;
    return Promise.all([
      ...[ipv4, ...(ipv6 ? [ipv6] : [])].map((ip) => checkZen(ip, env.resolver)),
      ...env.config.domains.map((d) => checkDbl(d.name, env.resolver)),
    ]);
  },
};
