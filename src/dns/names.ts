// Domain-name helpers: which zone a name falls in, names relative to a zone, reverse names.
import { isIPv4 } from 'node:net';

/** Lower case, no trailing dot: the form DnsRecord names use. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** An absolute name for presentation form: `mail.example.com.`; the root is `.`. */
export function absolute(name: string): string {
  const n = canonicalName(name);
  return n === '' ? '.' : `${n}.`;
}

/** Whether `name` is `zone` or below it. */
export function isInZone(name: string, zone: string): boolean {
  const n = canonicalName(name);
  const z = canonicalName(zone);
  return n === z || n.endsWith(`.${z}`);
}

/** `name` relative to `zone`, as in a zone file whose $ORIGIN is the zone: `@` for the apex. */
export function relativeName(name: string, zone: string): string {
  const n = canonicalName(name);
  const z = canonicalName(zone);
  if (n === z) return '@';
  if (!n.endsWith(`.${z}`)) throw new Error(`${name} is not in zone ${zone}`);
  return n.slice(0, n.length - z.length - 1);
}

/**
 * Which of `zones` holds a name: the longest one it falls in, or undefined. Made once for many names:
 * a lookup per label of the name, however many zones there are.
 */
export function zoneFinder(zones: string[]): (name: string) => string | undefined {
  const byName = new Map<string, string>();
  for (const z of zones) if (!byName.has(canonicalName(z))) byName.set(canonicalName(z), z);
  return (name) => {
    let n = canonicalName(name);
    for (;;) {
      const zone = byName.get(n);
      if (zone !== undefined) return zone;
      const dot = n.indexOf('.');
      if (dot < 0) return undefined;
      n = n.slice(dot + 1);
    }
  };
}

/** The zone among `zones` that holds `name`: the longest one it falls in, or undefined. */
export function zoneOf(name: string, zones: string[]): string | undefined {
  return zoneFinder(zones)(name);
}

/**
 * The zone assumed for a host name that is in no mail domain: its parent (mail.provider.net →
 * provider.net), or the name itself when it has only two labels (a registered domain of its own).
 */
export function parentZone(host: string): string {
  const labels = canonicalName(host).split('.');
  return labels.length <= 2 ? labels.join('.') : labels.slice(1).join('.');
}

/** The PTR owner name of an address: 10.113.0.203.in-addr.arpa or the ip6.arpa nibble form. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${expandIPv6(ip).replace(/:/g, '').split('').reverse().join('.')}.ip6.arpa`;
}

/** The full eight-group form of an IPv6 address, zero-padded: 2001:0db8:0000:…. */
export function expandIPv6(ip: string): string {
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join(':');
}

/** The shortest standard (RFC 5952) form of an IPv6 address, for comparing addresses. */
export function compressIPv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The address a reverse name stands for (inverse of reverseName). */
export function addressOfReverse(name: string): string {
  const n = canonicalName(name);
  if (n.endsWith('.in-addr.arpa')) return n.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
  const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.').reverse().join('');
  return compressIPv6(nibbles.replace(/(.{4})(?!$)/g, '$1:'));
}
