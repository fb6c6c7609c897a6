// RFC 2136 DNS UPDATE: what to change in one zone (pure), the message that changes it, and sending
// it signed with TSIG. One message per zone: the server applies it whole or not at all.
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import { RuntimeError } from '../errors.js';
import { canonicalValue, ruleFor } from './compare.js';
import type { LookupResult } from './resolver.js';
import { nameWire, sign, verify, type TsigKey } from './tsig.js';
import type { DnsRecord, RecordType } from './types.js';
import { exchange, rcodeName, showServer, toAnswer, type FoundRecord, type Server } from './wire.js';

const TYPE_CODES: Record<RecordType, number> = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, TLSA: 52, CAA: 257 };
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const OPCODE_UPDATE = 5;

/** The change to one owned (name, type) set. */
export interface Change {
  name: string;
  type: RecordType;
  /** Delete the whole RRset first (sets mailrig owns entirely). */
  replaceRRset: boolean;
  /** Single records to delete (owned records at shared names, e.g. a stale SPF among other TXT). */
  remove: FoundRecord[];
  add: DnsRecord[];
  /** For showing: values before and after. */
  before: string[];
  after: string[];
}

/** What must change so that DNS holds `expected` (one owned set); undefined when nothing must. */
export function planChange(expected: DnsRecord[], found: LookupResult): Change | undefined {
  const first = expected[0];
  if (first === undefined) return undefined;
  if (found.status === 'error') throw new RuntimeError(`cannot read ${first.name} ${first.type} from the primary server: ${found.error ?? 'no answer'}`);
  const rule = ruleFor(first);
  const canon = (v: string) => canonicalValue(first.type, v);
  const owned = found.records.filter((f) => rule.owns(f.value));
  const have = new Set(owned.map((f) => canon(f.value)));
  const wanted = new Set(expected.map((r) => canon(r.value)));
  const base = { name: first.name, type: first.type, before: owned.map((f) => f.value) };
  const missing = expected.filter((r) => !have.has(canon(r.value)));
  if (!rule.exclusive) {
    // CAA: add ours, never remove another CA's record.
    return missing.length ? { ...base, replaceRRset: false, remove: [], add: missing, after: [...base.before, ...missing.map((r) => r.value)] } : undefined;
  }
  const ownsAll = found.records.every((f) => rule.owns(f.value));
  if (ownsAll) {
    const same = missing.length === 0 && owned.length === wanted.size && owned.every((f) => f.ttl === first.ttl);
    return same ? undefined : { ...base, replaceRRset: true, remove: [], add: expected, after: expected.map((r) => r.value) };
  }
  // A shared RRset (SPF among other TXT): remove our stale records one by one, add ours if missing.
  const stale = owned.filter((f) => !wanted.has(canon(f.value)));
  if (stale.length === 0 && missing.length === 0) return undefined;
  return { ...base, replaceRRset: false, remove: stale, add: missing, after: expected.map((r) => r.value) };
}

function rr(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([nameWire(name), fixed, rdata]);
}

function txtRdataWire(strings: Buffer[]): Buffer {
  return Buffer.concat(strings.map((s) => Buffer.concat([Buffer.from([s.length]), s])));
}

/** The update-section records of one change (RFC 2136 2.5). */
function updateRecords(c: Change): Buffer[] {
  const out: Buffer[] = [];
  if (c.replaceRRset) out.push(rr(c.name, TYPE_CODES[c.type], CLASS_ANY, 0, Buffer.alloc(0)));
  for (const f of c.remove) out.push(rr(c.name, TYPE_CODES[c.type], CLASS_NONE, 0, txtRdataWire(f.strings ?? [Buffer.from(f.value)])));
  for (const r of c.add) {
    // dns-packet writes names uncompressed, so the record can be cut out of a one-record message.
    out.push(packet.encode({ answers: [toAnswer(r.name, r.type, r.ttl, r.value)] }).subarray(12));
  }
  return out;
}

/** An unsigned UPDATE message for `zone`. */
export function updateMessage(zone: string, changes: Change[], id = randomInt(0, 65536)): Buffer {
  const records = changes.flatMap(updateRecords);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  header.writeUInt16BE(1, 4); // zone section: one SOA question
  header.writeUInt16BE(records.length, 8); // update section
  const zoneSection = Buffer.concat([nameWire(zone), Buffer.from([0, 6, 0, CLASS_IN])]);
  return Buffer.concat([header, zoneSection, ...records]);
}

const EXPLAIN: Record<string, string> = {
  BADKEY: 'the server does not know this key name (dns.key_name)',
  BADSIG: "the key's secret does not match the server's (dns.key_file)",
  BADTIME: "this machine's clock and the server's differ by more than five minutes",
  REFUSED: 'the server does not allow this key to update this zone (its ACL)',
  NOTAUTH: 'the server is not authoritative for this zone, or did not accept the signature',
  NOTZONE: 'a record is outside the zone',
  SERVFAIL: 'the server failed to apply the update',
};

/** Sends one signed update; throws RuntimeError with the server's rcode when it is not applied. */
export async function sendUpdate(server: Server, zone: string, changes: Change[], key: TsigKey): Promise<void> {
  const { signed, mac } = sign(updateMessage(zone, changes), key);
  const response = await exchange(server, signed, { tcp: true, timeoutMs: 10000 });
  const rcode = response.readUInt16BE(2) & 0xf;
  const tsig = verify(response, mac, key);
  if (rcode !== 0 || tsig.error !== 0) {
    const name = rcodeName(rcode);
    const tsigName = tsig.error !== 0 ? rcodeName(tsig.error) : undefined;
    const why = EXPLAIN[tsigName ?? name] ?? 'the server refused the update';
    throw new RuntimeError(
      `${showServer(server)} refused the update of zone ${zone}: ${name}${tsigName ? ` (TSIG ${tsigName})` : ''}; ${why}. Nothing in ${zone} was changed.`,
    );
  }
  if (!tsig.verified) {
    throw new RuntimeError(`${showServer(server)} answered the update of zone ${zone} without a valid TSIG signature; cannot tell whether it was applied`);
  }
}
