// DKIM and ARC signing keys for rspamd, and the domain blocks that point at them.
//
// Key files: RSA keys stay PKCS#8 PEM. Ed25519 keys are written in rspamd's own format, the base64
// of the 32-byte seed: rspamd 3.4 (Debian 12) loads any PEM key as RSA and fails on Ed25519 PEM
// ("cannot extract rsa key from evp key"); the seed format works on every release.
import { createPrivateKey } from 'node:crypto';
import type { DkimKey } from '../keys/store.js';

export const DKIM_DIR = '/var/lib/rspamd/dkim';

export function dkimKeyPath(key: Pick<DkimKey, 'domain' | 'selector'>): string {
  return `${DKIM_DIR}/${key.domain}.${key.selector}.key`;
}

/** The key file's content in a form every supported rspamd release loads. */
export function rspamdKeyFile(key: Pick<DkimKey, 'algorithm' | 'privatePem'>): string {
  if (key.algorithm === 'rsa') return key.privatePem;
  const jwk = createPrivateKey(key.privatePem).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || jwk.d === undefined) throw new Error('expected an Ed25519 private key');
  // No trailing newline: rspamd takes the file's bytes as the base64 text.
  return Buffer.from(jwk.d, 'base64url').toString('base64');
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
  const active = signingKeys(keys);
  return domains.map((domain) => ({
    domain,
    selectors: active
      .filter((k) => k.domain === domain)
      .sort((a, b) => ALGORITHM_ORDER[a.algorithm] - ALGORITHM_ORDER[b.algorithm] || a.selector.localeCompare(b.selector))
      .map((k) => ({ selector: k.selector, path: dkimKeyPath(k), algorithm: k.algorithm })),
  }));
}
