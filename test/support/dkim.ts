// DKIM verification in tests: mailauth, resolving through a DNS server the test runs (knotd).
import { dkimVerify } from 'mailauth';
import { serverResolver } from '../../src/dns/resolver.js';
import type { DnsRecord } from '../../src/dns/types.js';
import { parseServer } from '../../src/dns/wire.js';

/** A node:dns-shaped resolver for mailauth that asks the given DNS server (a knotd of the test). */
export function mailauthResolver(server: string) {
  const resolver = serverResolver([parseServer(server) as NonNullable<ReturnType<typeof parseServer>>]);
  return async (name: string, rrtype: string) => {
    const result = await resolver.lookup(name, rrtype as DnsRecord['type']);
    if (result.status !== 'found') throw Object.assign(new Error(`${name} ${rrtype}: ${result.status}`), { code: 'ENOTFOUND' });
    return rrtype === 'TXT' ? result.records.map((f) => (f.strings ?? []).map((s) => s.toString())) : result.records.map((f) => f.value);
  };
}

/** The DKIM results of a message: "selector domain result" per signature. */
export async function dkimResults(message: Buffer, dnsServer: string): Promise<string[]> {
  const verified = await dkimVerify(message, { resolver: mailauthResolver(dnsServer) });
  return verified.results.map((r) => `${r.selector} ${r.signingDomain} ${r.status.result}`);
}

