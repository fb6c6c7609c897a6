// Pure comparison of the records mailrig expects with what DNS holds. `check` reports the result;
// `push` uses the same ownership rules to decide what to change.
//
// Ownership, precisely: mailrig owns the RRset of every (name, type) it generates and replaces it
// whole — except at names other things share: the TXT RRset of a mail domain or of the host name,
// where mailrig owns only the records that start with "v=spf1" (other TXT records, such as site
// verifications, are left alone), and CAA, where mailrig only adds its issuer and never removes
// another CA's record.
import { absolute, compressIPv6 } from './names.js';
import type { DnsRecord } from './types.js';
import type { FoundRecord } from './wire.js';
import type { LookupResult } from './resolver.js';

export type Status = 'ok' | 'missing' | 'different' | 'conflicting' | 'error';

export interface Finding {
  record: DnsRecord;
  status: Status;
  /** The values found that matter to this record (the whole owned set, or the unexpected ones). */
  found: string[];
  /** One line saying what is wrong, empty when ok. */
  detail: string;
}

export interface Rule {
  /** Which found records of the (name, type) this rule owns. */
  owns: (value: string) => boolean;
  /** Other owned records than the expected ones are a problem (an extra MX, a stale TLSA). */
  exclusive: boolean;
  /** At most one owned record may exist (two SPF records are an error for receivers). */
  single: boolean;
}

const isSpf = (v: string) => /^v=spf1(\s|$)/i.test(v.trim());

export function ruleFor(r: Pick<DnsRecord, 'type' | 'value'>): Rule {
  if (r.type === 'TXT' && isSpf(r.value)) return { owns: isSpf, exclusive: true, single: true };
  if (r.type === 'CAA') return { owns: () => true, exclusive: false, single: false };
  const single = r.type === 'TXT' || r.type === 'CNAME' || r.type === 'PTR';
  return { owns: () => true, exclusive: true, single };
}

/** Records that share one owned set: same name, type and rule. */
export function groupKey(r: Pick<DnsRecord, 'name' | 'type' | 'value'>): string {
  const family = r.type === 'TXT' && isSpf(r.value) ? 'spf' : '';
  return `${r.name.toLowerCase()}|${r.type}|${family}`;
}

/** Two values that mean the same compare equal: case of names, IPv6 spelling, spacing in tag lists. */
export function canonicalValue(type: DnsRecord['type'], value: string): string {
  const v = value.trim();
  const f = v.split(/\s+/);
  switch (type) {
    case 'AAAA':
      return compressIPv6(v);
    case 'CNAME':
    case 'PTR':
      return absolute(v);
    case 'MX':
      return `${Number(f[0])} ${absolute(f[1] ?? '')}`;
    case 'SRV':
      return `${Number(f[0])} ${Number(f[1])} ${Number(f[2])} ${absolute(f[3] ?? '')}`;
    case 'TLSA':
      return `${Number(f[0])} ${Number(f[1])} ${Number(f[2])} ${(f[3] ?? '').toLowerCase()}`;
    case 'CAA':
      return `${Number(f[0])} ${(f[1] ?? '').toLowerCase()} ${f.slice(2).join(' ')}`;
    case 'TXT':
      return canonicalTxt(v);
    default:
      return v;
  }
}

function canonicalTxt(v: string): string {
  if (isSpf(v)) return v.toLowerCase().split(/\s+/).join(' ');
  // Tag=value lists (DKIM, DMARC, MTA-STS, TLS-RPT): spacing around ; and = is insignificant.
  if (/^v\s*=\s*(DKIM1|DMARC1|STSv1|TLSRPTv1)\s*(;|$)/i.test(v)) {
    return v
      .split(';')
      .map((t) => t.trim().replace(/\s*=\s*/, '=').replace(/\s+/g, ''))
      .filter((t) => t !== '')
      .join('; ');
  }
  return v;
}

/** Compares the expected records of one group with the lookup result of their (name, type). */
export function compareGroup(expected: DnsRecord[], result: LookupResult): Finding[] {
  const first = expected[0];
  if (first === undefined) return [];
  if (result.status === 'error') {
    return expected.map((record) => ({ record, status: 'error', found: [], detail: `lookup failed: ${result.error ?? 'no answer'}` }));
  }
  const rule = ruleFor(first);
  const owned = result.records.filter((f) => rule.owns(f.value));
  const canon = (v: string) => canonicalValue(first.type, v);
  const wanted = new Set(expected.map((r) => canon(r.value)));
  const have = new Set(owned.map((f) => canon(f.value)));
  const extras = owned.filter((f) => !wanted.has(canon(f.value))).map((f) => f.value);
  const allPresent = [...wanted].every((w) => have.has(w));
  return expected.map((record): Finding => {
    const present = have.has(canon(record.value));
    if (owned.length === 0) {
      const why = result.status === 'nxdomain' ? 'not published (the name does not exist)' : 'not published';
      return { record, status: 'missing', found: [], detail: why };
    }
    if (rule.single && owned.length > 1) {
      return { record, status: 'conflicting', found: owned.map((f) => f.value), detail: `${owned.length} records where only one may exist` };
    }
    if (!present && extras.length === 0) return { record, status: 'missing', found: [], detail: 'not published' };
    if (!present) return { record, status: 'different', found: extras, detail: 'published with another value' };
    if (rule.exclusive && extras.length > 0 && allPresent) {
      return { record, status: 'conflicting', found: extras, detail: `also published: ${extras.join(', ')}` };
    }
    return { record, status: 'ok', found: [record.value], detail: '' };
  });
}

/** Groups records by owned set, keeping their order. */
export function groupRecords(records: DnsRecord[]): DnsRecord[][] {
  const groups = new Map<string, DnsRecord[]>();
  for (const r of records) {
    const key = groupKey(r);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

/** Found records owned by a group's rule (what push may replace or delete). */
export function ownedRecords(expected: DnsRecord, found: FoundRecord[]): FoundRecord[] {
  return found.filter((f) => ruleFor(expected).owns(f.value));
}
