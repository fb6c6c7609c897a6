// Small syntax predicates shared by the schema, the rules and the interview.
import { isIPv4 as netIsIPv4, isIPv6 as netIsIPv6 } from 'node:net';
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
