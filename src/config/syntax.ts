// Small syntax predicates shared by the schema, the rules and the interview.
import { BlockList, isIPv4 as netIsIPv4, isIPv6 as netIsIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** The ASCII (punycode) form of a domain name, lower-cased, or undefined when it is not one. */
export function toAsciiDomain(name: string): string | undefined {
  const trimmed = name.trim().replace(/\.$/, '');
  if (trimmed === '' || /[\s/@:]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (ascii === '' || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  return ascii;
}

/** The Unicode form of an ASCII domain, for showing to people. */
export function toUnicodeDomain(ascii: string): string {
  return domainToUnicode(ascii) || ascii;
}

/** A domain name with at least two labels and a non-numeric top label. */
export function isDomainName(name: string): boolean {
  const ascii = toAsciiDomain(name);
  if (ascii === undefined) return false;
  const labels = ascii.split('.');
  return labels.length >= 2 && !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/** A host name fit to be an MX target: a domain name of at least three labels is not required, two suffice. */
export function isFqdn(name: string): boolean {
  return typeof name === 'string' && isDomainName(name) && !netIsIPv4(name);
}

// RFC 5321 dot-atom local parts, the part of the grammar every mail system accepts.
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;

export function isLocalPart(local: string): boolean {
  return typeof local === 'string' && local.length <= 64 && LOCAL_PART.test(local);
}

/** A mailbox address local@domain, domain possibly in Unicode. */
export function isEmailAddress(address: string): boolean {
  if (typeof address !== 'string') return false;
  const at = address.lastIndexOf('@');
  if (at <= 0) return false;
  return isLocalPart(address.slice(0, at)) && isDomainName(address.slice(at + 1));
}

/** local@domain with the domain in its ASCII form and lower case; the local part keeps its case. */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = toAsciiDomain(address.slice(at + 1)) ?? address.slice(at + 1).toLowerCase();
  return `${address.slice(0, at).toLowerCase()}@${domain}`;
}

export function isIPv4(v: string): boolean {
  return typeof v === 'string' && netIsIPv4(v);
}

export function isIPv6(v: string): boolean {
  return typeof v === 'string' && netIsIPv6(v);
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes in a size such as 10G, 500M, 1.5G or 1048576; undefined when it is not a size. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? '').toUpperCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

/** An address with its domain in Unicode, for messages to people. */
export function displayAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : `${address.slice(0, at)}@${toUnicodeDomain(address.slice(at + 1))}`;
}

// Address ranges a public mail server cannot have. The documentation ranges (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are accepted: examples are written with them.
const NEVER: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified ("this network") address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  ['::', 128, 'ipv6', 'the unspecified address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
  ['::ffff:0:0', 96, 'ipv6', 'an IPv4-mapped address (give it as server.ipv4)'],
];
const LAB_ONLY: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['10.0.0.0', 8, 'ipv4', 'a private address (10.0.0.0/8)'],
  ['172.16.0.0', 12, 'ipv4', 'a private address (172.16.0.0/12)'],
  ['192.168.0.0', 16, 'ipv4', 'a private address (192.168.0.0/16)'],
  ['100.64.0.0', 10, 'ipv4', 'a shared (carrier-grade NAT) address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address'],
  ['::1', 128, 'ipv6', 'the loopback address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['fc00::', 7, 'ipv6', 'a unique local (private) address'],
];

function inRanges(address: string, ranges: typeof NEVER): string | undefined {
  const family = netIsIPv4(address) ? 'ipv4' : 'ipv6';
  for (const [net, prefix, fam, what] of ranges) {
    if (fam !== family) continue;
    const list = new BlockList();
    list.addSubnet(net, prefix, fam);
    if (list.check(address, fam)) return what;
  }
  return undefined;
}

/**
 * Why an address cannot be a public mail server's, or undefined when it can. A zone (fe80::1%eth0)
 * is never valid; private, loopback and link-local addresses only when `lab` allows them.
 */
export function serverAddressProblem(address: string, lab: boolean): string | undefined {
  if (address.includes('%')) return 'has a zone index (%…): DNS cannot publish it; give the address alone';
  if (!netIsIPv4(address) && !netIsIPv6(address)) return undefined;
  const never = inRanges(address, NEVER);
  if (never) return `is ${never}, not one a mail server can be reached at`;
  const lab_ = inRanges(address, LAB_ONLY);
  if (lab_ && !lab) {
    return `is ${lab_}; a public mail server needs a public address (for a lab or test network, set server.allow_private_addresses: true, or pass --allow-private-addresses to init/setup)`;
  }
  return undefined;
}

/** A mailbox name: it becomes a directory on the server, so letters, digits and . _ - only. */
export function isMailboxName(local: string): boolean {
  return typeof local === 'string' && local.length <= 64 && /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i.test(local);
}

/** host or host:port, the host a host name or an IP address ([…] for IPv6 with a port). */
export function isHostPort(v: string): boolean {
  if (typeof v !== 'string') return false;
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\s]+))(?::(\d{1,5}))?$/i.exec(v);
  const bare = netIsIPv6(v);
  if (!m && !bare) return false;
  if (bare) return true;
  const port = m?.[3] === undefined ? 1 : Number(m[3]);
  if (port < 1 || port > 65535) return false;
  const host = m?.[1] ?? m?.[2] ?? '';
  return m?.[1] !== undefined ? netIsIPv6(host) : netIsIPv4(host) || toAsciiDomain(host) !== undefined;
}

/** Why a value is not an SSH target (user@host[:port], a Host alias, or "local"), else undefined. */
export function sshTargetProblem(value: string): string | undefined {
  if (value === 'local') return undefined;
  const m = /^(?:([a-z_][a-z0-9_.-]*)@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(value);
  if (!m) return 'must be user@host[:port], a Host alias from ~/.ssh/config, or "local"';
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return 'has a port outside 1–65535';
  return undefined;
}

// A domain name in running text with at least one punycode label (xn--…): _dmarc.xn--bcher-kva.test.
const PUNYCODE_NAME = /(?<![\w.-])(?:[a-z0-9_-]+\.)*xn--[a-z0-9-]+(?:\.[a-z0-9_-]+)*/gi;

/**
 * Text for people: each punycode name in it in the Unicode form the operator wrote. With `beside`,
 * the punycode follows in parentheses, for text that says what to type or publish elsewhere.
 */
export function unicodeText(text: string, opts: { beside?: boolean } = {}): string {
  return text.replace(PUNYCODE_NAME, (name: string, offset: number, whole: string) => {
    const unicode = domainToUnicode(name.replace(/\.$/, ''));
    if (!unicode || unicode === name) return name;
    const after = whole[offset + name.length] ?? '';
    if (whole[offset - 1] === '(' && after === ')') return name; // already the punycode beside its Unicode form
    // Inside a URL or host:port the name stays one token.
    const inUrl = after === '/' || (after === ':' && /\d/.test(whole[offset + name.length + 1] ?? ''));
    return opts.beside && !inUrl ? `${unicode} (${name})` : unicode;
  });
}

/** A forwarder as unbound's forward-addr takes it: an IPv4 or IPv6 address, optionally @port. */
export function isForwarder(v: string): boolean {
  if (typeof v !== 'string') return false;
  const m = /^([^@\s]+)(?:@(\d{1,5}))?$/.exec(v);
  if (!m) return false;
  const port = m[2] === undefined ? 53 : Number(m[2]);
  return port >= 1 && port <= 65535 && (netIsIPv4(m[1] ?? '') || netIsIPv6(m[1] ?? ''));
}

/** The address of a forwarder, without its @port. */
export function forwarderAddress(v: string): string {
  return v.replace(/@\d+$/, '');
}

/**
 * Why a DNSSEC trust anchor is not a DS or DNSKEY record in presentation form
 * ("owner [TTL] [IN] DS keytag algorithm digest-type digest", or DNSKEY flags protocol algorithm key),
 * or undefined when it is one.
 */
export function trustAnchorProblem(v: string): string | undefined {
  if (typeof v !== 'string') return 'is not a DS or DNSKEY record';
  const words = v.trim().split(/\s+/);
  const owner = words.shift() ?? '';
  if (owner !== '.' && toAsciiDomain(owner) === undefined) return `starts with "${owner}", which is not a domain name (try "example.test. IN DS 12345 13 2 ABCDEF…")`;
  if (/^\d+$/.test(words[0] ?? '')) words.shift();
  if (/^[A-Za-z]+$/.test(words[0] ?? '') && /^(IN|CH|HS|CS)$/i.test(words[0] ?? '')) {
    if (words[0]?.toUpperCase() !== 'IN') return `has class ${words[0]}; a trust anchor is of class IN`;
    words.shift();
  }
  const type = (words.shift() ?? '').toUpperCase();
  const n = (w: string | undefined, max: number) => w !== undefined && /^\d+$/.test(w) && Number(w) <= max;
  if (type === 'DS') {
    const [tag, alg, digestType, ...digest] = words;
    if (!n(tag, 65535) || !n(alg, 255) || !n(digestType, 255)) return 'is a DS record without key tag, algorithm and digest type numbers (DS 12345 13 2 ABCDEF…)';
    if (digest.length === 0 || !/^[0-9a-f]+$/i.test(digest.join(''))) return 'is a DS record whose digest is not hexadecimal';
    return undefined;
  }
  if (type === 'DNSKEY') {
    const [flags, protocol, alg, ...key] = words;
    if (!n(flags, 65535) || protocol !== '3' || !n(alg, 255)) return 'is a DNSKEY record without flags, protocol 3 and algorithm (DNSKEY 257 3 13 base64…)';
    if (key.length === 0 || !/^[A-Za-z0-9+/]+=*$/.test(key.join(''))) return 'is a DNSKEY record whose key is not base64';
    return undefined;
  }
  return `is of type ${type || '(none)'}; a trust anchor is a DS or DNSKEY record`;
}

/** A tls_policy key: a domain name, or .domain for its subdomains. */
export function isPolicyDestination(v: string): boolean {
  return typeof v === 'string' && isDomainName(v.replace(/^\./, '')) && !v.startsWith('..');
}
