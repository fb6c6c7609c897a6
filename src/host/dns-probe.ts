// One DNS query to the host's own resolver, sent from the host itself, without a DNS tool on it:
// bash opens a UDP socket to 127.0.0.1:53 (/dev/udp), writes the query and reads one datagram, and
// od prints the answer in hex. The query is built and the answer decoded here (dns-packet).
import * as packet from 'dns-packet';
import { rcodeName } from '../dns/wire.js';
import { quote } from './shell.js';

export interface DnsProbe {
  /** A DNS message came back (whatever its rcode). */
  answered: boolean;
  /** NOERROR, NXDOMAIN, SERVFAIL, ...; undefined without an answer. */
  rcode: string | undefined;
  /** The resolver validated the answer with DNSSEC (the AD bit). */
  authenticated: boolean;
  /** Why there was no answer, as the shell said it. */
  error: string | undefined;
}

/** The query: `name` A, recursion desired, AD set to ask whether the answer is validated (RFC 6840). */
export function dnsProbeQuery(name: string, id = 0x4d52): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ type: 'A', class: 'IN', name }],
  });
}

/**
 * Shell (POSIX sh) that prints the answer as hex bytes, or why there was none: a refused query
 * (nothing listens) fails at once, no answer at all ends after 5 s.
 */
export function dnsProbeScript(name: string, address: string, port: number): string {
  const bytes = [...dnsProbeQuery(name)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  const inner = `exec 3<>/dev/udp/${address}/${port} && printf '${bytes}' >&3 && dd bs=4096 count=1 status=none <&3`;
  return `{ timeout 5 bash -c ${quote(inner)} | od -An -v -tx1; } 2>&1`;
}

/** The script's lines: hex bytes, or an error message. */
export function parseDnsProbe(lines: string[]): DnsProbe {
  const hex = lines
    .filter((l) => /^[\s0-9a-f]+$/i.test(l) && l.trim() !== '')
    .join(' ')
    .replace(/\s+/g, '');
  if (hex.length >= 24) {
    try {
      const flags = packet.decode(Buffer.from(hex, 'hex')).flags ?? 0;
      return { answered: true, rcode: rcodeName(flags & 0x0f), authenticated: (flags & packet.AUTHENTIC_DATA) !== 0, error: undefined };
    } catch {
      return { answered: false, rcode: undefined, authenticated: false, error: 'the answer was not a DNS message' };
    }
  }
  const said = lines.filter((l) => !/^[\s0-9a-f]*$/i.test(l)).join(' ').trim();
  return { answered: false, rcode: undefined, authenticated: false, error: said || 'no answer within 5 s' };
}
