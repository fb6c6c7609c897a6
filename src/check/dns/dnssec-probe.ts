// Whether a zone is signed, as a resolver sees it: DNSKEY at the apex, DS at the parent, and the AD
// bit (the resolver validated the answer). Raw queries with the DO bit, since DnsResolver only knows
// the record types mailrig publishes.
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import { exchange, rcodeName, type Server } from '../../dns/wire.js';

export interface ZoneSecurity {
  dnskey: boolean;
  ds: boolean;
  /** The resolver set AD on the DNSKEY answer: it validated the chain of trust. */
  validated: boolean;
  /** No usable answer (then the booleans mean nothing). */
  error: string | undefined;
}

async function ask(server: Server, name: string, type: 'DNSKEY' | 'DS'): Promise<{ count: number; ad: boolean; rcode: string }> {
  const message = packet.encode({
    type: 'query',
    id: randomInt(0, 65536),
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] }],
  });
  let response = packet.decode(await exchange(server, message, { timeoutMs: 4000 }));
  if (((response.flags ?? 0) & packet.TRUNCATED_RESPONSE) !== 0) response = packet.decode(await exchange(server, message, { tcp: true, timeoutMs: 4000 }));
  const rcode = rcodeName((response.flags ?? 0) & 0xf);
  const count = (response.answers ?? []).filter((a) => a.type === type).length;
  return { count, ad: ((response.flags ?? 0) & packet.AUTHENTIC_DATA) !== 0, rcode };
}

/** The probe over the given servers (the first that answers). */
export function serverDnssecProbe(servers: Server[]): (zone: string) => Promise<ZoneSecurity> {
  return async (zone) => {
    let last = 'no DNS server to ask';
    for (const server of servers) {
      try {
        const key = await ask(server, zone, 'DNSKEY');
        if (key.rcode !== 'NOERROR') return { dnskey: false, ds: false, validated: false, error: `DNSKEY ${zone}: ${key.rcode}` };
        // DS lives in the parent; a server that only knows the zone answers REFUSED or NODATA.
        const ds = await ask(server, zone, 'DS').catch(() => ({ count: 0, ad: false, rcode: 'error' }));
        return { dnskey: key.count > 0, ds: ds.count > 0, validated: key.ad, error: undefined };
      } catch (e) {
        last = (e as Error).message;
      }
    }
    return { dnskey: false, ds: false, validated: false, error: last };
  };
}
