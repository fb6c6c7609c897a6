// Blocklists: each server address on Spamhaus ZEN and on every list of spam.blocklists, each mail
// domain on Spamhaus DBL. With spam.spamhaus_dqs_key the DQS zones are asked (the same zones rspamd
// asks); the key is never shown, only "(DQS)". Spamhaus answers 127.255.255.x instead of a listing
// when it refuses the query (public resolver, rate limit, unknown zone or key): that is "could not
// check", never "listed"; so is any list's 127.255.255.x. NXDOMAIN means not listed.
//
// IPv6: Spamhaus documents one query per address, the 32 nibbles of the full address reversed
// (docs.spamhaus.com, DQS "Query Format"); a listing of a whole /64 or wider range answers for every
// address inside it, so the address's own query already shows it. There is no separate /64 query:
// asking for the network's first address would only tell about that one address.
import { spamhausZones, type Blocklist } from '../../config/model.js';
import { expandIPv6 } from '../../dns/names.js';
import type { DnsResolver } from '../../dns/resolver.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, unknown, warn, type Check, type CheckResult } from '../types.js';

export const ZEN = 'zen.spamhaus.org';
export const DBL = 'dbl.spamhaus.org';

/** The name a DNS blocklist is asked for an address: reversed octets, or reversed nibbles for IPv6. */
export function blocklistName(ip: string, zone: string): string {
  if (ip.includes(':')) return `${expandIPv6(ip).replace(/:/g, '').split('').reverse().join('.')}.${zone}`;
  return `${ip.split('.').reverse().join('.')}.${zone}`;
}

/** The ZEN query name of an address (on the public mirror unless another ZEN zone is given). */
export function zenName(ip: string, zone = ZEN): string {
  return blocklistName(ip, zone);
}

const ZEN_CODES: Record<string, string> = {
  '127.0.0.2': 'SBL (spam source)',
  '127.0.0.3': 'SBL CSS (snowshoe spam)',
  '127.0.0.4': 'XBL (exploited host)',
  '127.0.0.9': 'SBL DROP',
  '127.0.0.10': 'PBL (ISP: no direct mail from this range)',
  '127.0.0.11': 'PBL (Spamhaus: dynamic range)',
  '127.0.0.30': 'BCL (botnet controller)',
};

const REFUSED = /^127\.255\.255\.\d+$/;

export type BlocklistVerdict = { kind: 'clean' } | { kind: 'listed'; codes: string[] } | { kind: 'unknown'; why: string };

/** Pure: what a Spamhaus lookup result means. */
export function verdict(status: string, values: string[], error: string | undefined, describe: (code: string) => string): BlocklistVerdict {
  if (status === 'nxdomain' || (status === 'nodata' && values.length === 0)) return { kind: 'clean' };
  if (status === 'error') return { kind: 'unknown', why: error ?? 'no answer' };
  const refused = values.filter((v) => REFUSED.test(v));
  if (refused.length) return { kind: 'unknown', why: `Spamhaus refused the query (${refused.join(', ')}: public or rate-limited resolver, or an unknown DQS key)` };
  return { kind: 'listed', codes: values.map(describe) };
}

/**
 * Pure: what a spam.blocklists lookup result means, as rspamd reads it (local.d/rbl.conf):
 * 127.0.0.x listed, 127.255.255.x the list's error, any other answer no listing.
 */
export function listVerdict(status: string, values: string[], error: string | undefined): BlocklistVerdict {
  if (status === 'error') return { kind: 'unknown', why: error ?? 'no answer' };
  const errors = values.filter((v) => REFUSED.test(v));
  if (errors.length) return { kind: 'unknown', why: `the list answered ${errors.join(', ')}, an error rather than a listing` };
  const listed = values.filter((v) => /^127\.0\.0\.\d+$/.test(v));
  return listed.length ? { kind: 'listed', codes: listed } : { kind: 'clean' };
}

const ASK_OWN = 'ask through a resolver of your own (not a public one), e.g. --resolver 127.0.0.1 with unbound on this machine';
const ASK_DQS = 'check spam.spamhaus_dqs_key against the Spamhaus portal (an unknown or lapsed key is refused), and that the key may query this list';

/** Which Spamhaus zones to ask, as rspamd does: a DQS key's, else the public mirrors. */
export function spamhausFor(dqsKey: string | undefined): { zen: string; dbl: string; via: string; fix: string } {
  return { ...spamhausZones(dqsKey), via: dqsKey === undefined ? '' : ' (DQS)', fix: dqsKey === undefined ? ASK_OWN : ASK_DQS };
}

type Spamhaus = ReturnType<typeof spamhausFor>;

export async function checkZen(ip: string, resolver: DnsResolver, spamhaus: Spamhaus = spamhausFor(undefined)): Promise<CheckResult> {
  const head = { id: `deliverability.zen.${ip}`, section: 'deliverability' as const, subject: `${ip} on Spamhaus ZEN${spamhaus.via}` };
  const r = await resolver.lookup(zenName(ip, spamhaus.zen), 'A');
  const v = verdict(r.status, r.records.map((x) => x.value), r.error, (c) => ZEN_CODES[c] ?? c);
  if (v.kind === 'clean') return ok(head, 'not listed');
  if (v.kind === 'unknown') return unknown(head, v.why, spamhaus.fix);
  return fail(head, `listed: ${v.codes.join(', ')}`, `see https://check.spamhaus.org/ for ${ip}: fix the cause, then request removal`);
}

export async function checkDbl(domain: string, resolver: DnsResolver, spamhaus: Spamhaus = spamhausFor(undefined)): Promise<CheckResult> {
  const head = { id: `deliverability.dbl.${domain}`, section: 'deliverability' as const, subject: `${domain} on Spamhaus DBL${spamhaus.via}` };
  const r = await resolver.lookup(`${domain}.${spamhaus.dbl}`, 'A');
  // DBL listings are 127.0.1.2–127.0.1.199; 127.0.1.255 is "IP queries are not supported".
  const values = r.records.map((x) => x.value);
  const v = verdict(r.status, values.filter((x) => x !== '127.0.1.255'), r.error, (c) => `code ${c}`);
  if (values.includes('127.0.1.255') && values.length === 1) return unknown(head, 'Spamhaus answered 127.0.1.255 (not a domain query)', spamhaus.fix);
  if (v.kind === 'clean') return ok(head, 'not listed');
  if (v.kind === 'unknown') return unknown(head, v.why, spamhaus.fix);
  return fail(head, `listed: ${v.codes.join(', ')}`, `see https://check.spamhaus.org/ for ${domain}: fix the cause, then request removal`);
}

/** A server address on one list of spam.blocklists: a listing warns, since only that list's users refuse it. */
export async function checkListed(ip: string, list: Blocklist, resolver: DnsResolver): Promise<CheckResult> {
  const head = { id: `deliverability.blocklist.${list.zone}.${ip}`, section: 'deliverability' as const, subject: `${ip} on ${list.zone}` };
  const r = await resolver.lookup(blocklistName(ip, list.zone), 'A');
  const v = listVerdict(r.status, r.records.map((x) => x.value), r.error);
  if (v.kind === 'clean') return ok(head, 'not listed');
  if (v.kind === 'unknown') return unknown(head, v.why, `ask the operators of ${list.zone} whether this resolver may query it; check --resolver`);
  return warn(head, `listed: ${v.codes.join(', ')}`, `ask the operators of ${list.zone} why and how to be removed: servers that use it may refuse mail from ${ip}`);
}

export const blocklists: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'blocklists',
  run: (env) => {
    const { ipv4, ipv6 } = env.config.server;
    const ips = [ipv4, ...(ipv6 ? [ipv6] : [])];
    const spamhaus = spamhausFor(env.config.spam.spamhausDqsKey);
    return Promise.all([
      ...ips.map((ip) => checkZen(ip, env.resolver, spamhaus)),
      ...env.config.domains.map((d) => checkDbl(d.name, env.resolver, spamhaus)),
      ...env.config.spam.blocklists.flatMap((list) => ips.map((ip) => checkListed(ip, list, env.resolver))),
    ]);
  },
};
