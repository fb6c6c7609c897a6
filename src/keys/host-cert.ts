// The self-signed certificate of a host beside the primary (a backup MX): its own name, the same
// current TLS key, so the one TLSA value the key store publishes matches every host. Made in the key
// store when a host is first listed, and again when its name or the current key changes.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../fs/atomic.js';
import { spkiSha256 } from './store.js';

/** Where the certificate of the host named `name` lives in the key store. */
export function hostCertPath(dir: string, name: string): string {
  return join(dir, 'tls', `selfsigned-${name}.crt`);
}

/**
 * The certificate of each host (by host name), made where missing or stale. `currentKeyPem` and its
 * SPKI hash are the key store's current TLS key.
 */
export async function ensureHostCertificates(
  dir: string,
  hosts: Array<{ name: string; hostname: string }>,
  currentKeyPem: string,
  currentSpki: string,
): Promise<Record<string, string>> {
  const pems: Record<string, string> = {};
  for (const host of hosts) {
    const path = hostCertPath(dir, host.name);
    let pem = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (pem === undefined || !fits(pem, host.hostname, currentSpki)) {
      const { makeSelfSignedCertificate } = await import('./selfsigned.js');
      pem = await makeSelfSignedCertificate(currentKeyPem, [host.hostname]);
      writeAtomic(path, pem, 0o644);
    }
    pems[host.hostname] = pem;
  }
  return pems;
}

function fits(pem: string, hostname: string, spki: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    return spkiSha256(cert.publicKey) === spki && cert.subjectAltName === `DNS:${hostname}` && cert.validTo !== '' && new Date(cert.validTo).getTime() > Date.now() + 30 * 86400_000;
  } catch {
    return false;
  }
}
