// BIND zone-file output: paste-able lines per zone, or one complete zone file (--zone) with SOA and
// NS records. PTR records are never in this output: they belong to the hosting provider's reverse zone.
import { absolute, relativeName } from './names.js';
import { txtRdata } from './txt.js';
import type { DnsRecord } from './types.js';

/** Marks placeholder values that the operator must replace before serving the zone. */
export const PLACEHOLDER_NS = 'ns1.replace-me.invalid';

export interface SoaOptions {
  /** Name servers of the zone; a clearly marked placeholder when none are given. */
  nameServers?: string[];
  /** SOA RNAME as a mail address (hostmaster@example.com). */
  hostmaster: string;
  /** SOA serial; callers pass a date-based one (YYYYMMDDnn). */
  serial: number;
}

/** RDATA in zone-file syntax. */
export function rdata(r: DnsRecord): string {
  return r.type === 'TXT' ? txtRdata(r.value) : r.value;
}

/** One zone-file line with the owner name relative to the zone's $ORIGIN. */
export function bindLine(r: DnsRecord, zone: string): string {
  return `${relativeName(r.name, zone).padEnd(24)} ${String(r.ttl).padStart(6)} IN ${r.type.padEnd(5)} ${rdata(r)}`;
}

function zoneBody(records: DnsRecord[], zone: string): string[] {
  return records.filter((r) => r.zone === zone).flatMap((r) => [`; ${r.purpose}`, bindLine(r, zone)]);
}

/** The records of each zone, zones in order of first appearance (PTR excluded), in one pass. */
export function recordsByZone(records: DnsRecord[]): Map<string, DnsRecord[]> {
  const zones = new Map<string, DnsRecord[]>();
  for (const r of records) {
    if (r.zone === null) continue;
    const list = zones.get(r.zone);
    if (list) list.push(r);
    else zones.set(r.zone, [r]);
  }
  return zones;
}

/** The zones of `records`, in order of first appearance (PTR excluded). */
export function zonesOf(records: DnsRecord[]): string[] {
  return [...recordsByZone(records).keys()];
}

/** Every zone's records as paste-able lines, each zone under its own $ORIGIN. */
export function formatBindLines(records: DnsRecord[]): string {
  const blocks = [...recordsByZone(records)].map(([zone, rows]) =>
    [`; ---- zone ${zone}: add these lines to its zone file ----`, `$ORIGIN ${absolute(zone)}`, ...zoneBody(rows, zone)].join('\n'),
  );
  const ptr = records.filter((r) => r.type === 'PTR');
  const note = ptr.length
    ? [
        '; ---- reverse DNS: set at your hosting provider, not in any of your zones ----',
        ...ptr.map((r) => `; ${r.name}. PTR ${r.value}`),
      ]
    : [];
  return `${[...blocks, note.join('\n')].filter((b) => b !== '').join('\n\n')}\n`;
}

/** `hostmaster@example.com` → `hostmaster.example.com.` (dots in the local part escaped). */
export function mailToRname(address: string): string {
  const at = address.lastIndexOf('@');
  return `${address.slice(0, at).replace(/\./g, '\\.')}.${absolute(address.slice(at + 1))}`;
}

/** A complete zone file for `zone`: $ORIGIN, $TTL, SOA, NS, then mailrig's records. */
export function formatZoneFile(records: DnsRecord[], zone: string, soa: SoaOptions): string {
  const ttl = records.find((r) => r.zone === zone)?.ttl ?? 3600;
  const placeholder = !soa.nameServers?.length;
  const ns = placeholder ? [PLACEHOLDER_NS] : (soa.nameServers ?? []);
  const lines = [
    `; Zone file for ${zone}, written by mailrig.`,
    ...(placeholder
      ? [
          '; PLACEHOLDER: ns1.replace-me.invalid stands for your name servers. Replace it in the SOA and NS',
          '; records below (or run mailrig dns --zone with --ns NAME) before serving this zone.',
        ]
      : []),
    `$ORIGIN ${absolute(zone)}`,
    `$TTL ${ttl}`,
    `@ IN SOA ${absolute(ns[0] ?? PLACEHOLDER_NS)} ${mailToRname(soa.hostmaster)} (`,
    `    ${soa.serial} ; serial`,
    '    3600       ; refresh',
    '    900        ; retry',
    '    1209600    ; expire',
    '    300 )      ; negative-answer TTL',
    ...ns.map((n) => `@ IN NS ${absolute(n)}${placeholder ? ' ; PLACEHOLDER' : ''}`),
    '',
    ...zoneBody(records, zone),
  ];
  return `${lines.join('\n')}\n`;
}
