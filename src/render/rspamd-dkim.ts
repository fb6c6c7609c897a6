// DKIM and ARC signing keys for rspamd, and the domain blocks that point at them.
//
// Key files: RSA keys stay PKCS#8 PEM. Ed25519 keys are written in rspamd's own format, the base64
// of the 32-byte seed: rspamd 3.4 (Debian 12) loads any PEM key as RSA and fails on Ed25519 PEM
// ("cannot extract rsa key from evp key"); the seed format works on every release.
import type { DkimKey } from '../keys/store.js';

export const DKIM_DIR = '/var/lib/rspamd/dkim';

export function dkimKeyPath(key: Pick<DkimKey, 'domain' | 'selector'>): string {
  return `${DKIM_DIR}/${key.domain}.${key.selector}.key`;
}

/** The key file's content in a form every supported rspamd release loads. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function rspamdKeyFile(key: Pick<DkimKey, 'algorithm' | 'privatePem'>): string {
  if (key.algorithm === 'rsa') return key.privatePem;
  // An Ed25519 PKCS#8 key is a fixed 48-byte structure ending in the 32-byte seed.
  const der = Buffer.from(key.privatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  if (der.length !== 48 || !der.subarray(0, 16).equals(ED25519_PKCS8_PREFIX)) throw new Error('expected an Ed25519 private key');
  // No trailing newline: rspamd takes the file's bytes as the base64 text.
  return der.subarray(16).toString('base64');
}

/** Active keys only: "next" keys are published ahead of a rotation but do not sign yet. */
export function signingKeys(keys: DkimKey[]): DkimKey[] {
  return keys.filter((k) => k.state === 'active');
}

export interface DomainSelectors {
  domain: string;
  selectors: Array<{ selector: string; path: string; algorithm: string }>;
}

const ALGORITHM_ORDER: Record<DkimKey['algorithm'], number> = { rsa: 0, ed25519: 1 };

/** Signing selectors grouped by domain, in domain order then RSA before Ed25519. */
export function domainSelectors(keys: DkimKey[], domains: string[]): DomainSelectors[] {
  // Grouped once: thousands of domains must not each scan every key.
  const byDomain = new Map<string, DkimKey[]>();
  for (const k of signingKeys(keys)) byDomain.set(k.domain, [...(byDomain.get(k.domain) ?? []), k]);
  return domains.map((domain) => ({
    domain,
    selectors: (byDomain.get(domain) ?? [])
      .sort((a, b) => ALGORITHM_ORDER[a.algorithm] - ALGORITHM_ORDER[b.algorithm] || a.selector.localeCompare(b.selector))
      .map((k) => ({ selector: k.selector, path: dkimKeyPath(k), algorithm: k.algorithm })),
  }));
}
