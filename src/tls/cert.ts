// Reading certificates: what `mailrig cert status` shows, what the renewal decision and the choice of
// the certificate to serve are made from. Pure functions of PEM text and a clock; node:crypto only, so
// the on-host agent can use them too.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names of the subjectAltName extension, in certificate order. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: the TLSA 3 1 1 value of the certificate's key. */
  spkiSha256: string;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex (as openssl prints it). */
  fingerprint: string;
  /** Issuer and subject are the same: mailrig's own bootstrap certificate, not one from a CA. */
  selfSigned: boolean;
}

/** The PEM blocks of a chain, leaf first. */
export function splitChain(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function spkiOfKey(keyPem: string): string {
  return createHash('sha256').update(createPublicKey(keyPem).export({ type: 'spki', format: 'der' })).digest('hex');
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

/** The leaf certificate's facts; throws on text that holds no certificate. */
export function certificateInfo(pem: string): CertificateInfo {
  const leaf = splitChain(pem)[0];
  if (leaf === undefined) throw new Error('no certificate in PEM text');
  const cert = new X509Certificate(leaf);
  const names = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    names,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serial: cert.serialNumber,
    spkiSha256: createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'),
    fingerprint: cert.fingerprint256,
    selfSigned: cert.issuer === cert.subject,
  };
}

/** certificateInfo, or undefined for anything unreadable (a damaged file on the host). */
export function tryCertificateInfo(pem: string | undefined): CertificateInfo | undefined {
  if (pem === undefined) return undefined;
  try {
    return certificateInfo(pem);
  } catch {
    return undefined;
  }
}

export function daysLeft(info: Pick<CertificateInfo, 'notAfter'>, now: Date): number {
  return Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
}

export type RenewReason = 'forced' | 'self-signed' | 'other-key' | 'names' | 'expired' | 'due';

export interface RenewDecision {
  renew: boolean;
  /** Why, when renew is true. */
  reason?: RenewReason;
  /** One line for the log and the operator. */
  message: string;
}

/**
 * Whether a certificate must be (re)issued: when it is missing or mailrig's own, made for another key,
 * lacks a name, or has a third of its lifetime or less left (Let's Encrypt's advice: renew at day 60
 * of 90; for 6-day certificates after 4 days).
 */
export function renewalDecision(
  info: CertificateInfo | undefined,
  want: { names: string[]; spkiSha256: string },
  now: Date,
  force = false,
): RenewDecision {
  if (force) return { renew: true, reason: 'forced', message: 'renewal forced' };
  if (info === undefined || info.selfSigned) return { renew: true, reason: 'self-signed', message: 'no certificate from the CA yet' };
  if (info.spkiSha256 !== want.spkiSha256) return { renew: true, reason: 'other-key', message: 'the certificate is for another key' };
  const missing = want.names.filter((n) => !info.names.includes(n.toLowerCase()));
  if (missing.length) return { renew: true, reason: 'names', message: `the certificate lacks ${missing.join(', ')}` };
  if (info.notAfter.getTime() <= now.getTime()) return { renew: true, reason: 'expired', message: 'the certificate has expired' };
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  const renewAt = new Date(info.notAfter.getTime() - lifetime / 3);
  if (now.getTime() >= renewAt.getTime()) {
    return { renew: true, reason: 'due', message: `a third of its lifetime is left (expires ${info.notAfter.toISOString()})` };
  }
  return { renew: false, message: `valid until ${info.notAfter.toISOString()}; renewal from ${renewAt.toISOString()}` };
}

/** A CA-issued certificate for this key that has not expired: worth serving. */
export function usable(info: CertificateInfo | undefined, spkiSha256: string, now: Date): info is CertificateInfo {
  return info !== undefined && !info.selfSigned && info.spkiSha256 === spkiSha256 && info.notAfter.getTime() > now.getTime();
}

export interface CertificateChoice {
  pem: string;
  source: 'host' | 'local' | 'self-signed';
}

/**
 * Which certificate the host should serve once ACME is on: the newer of the host's copy (the agent may
 * have renewed it) and .mailrig's acme.crt, if either is a CA-issued certificate for the current key
 * that has not expired; else the self-signed one. Serving a valid certificate that lacks a new name
 * beats serving the self-signed one: apply requests the missing names afterwards.
 */
export function chooseCertificate(c: {
  selfSigned: string;
  local?: string | undefined;
  host?: string | undefined;
  spkiSha256: string;
  now: Date;
}): CertificateChoice {
  const candidates = (['host', 'local'] as const)
    .map((source) => ({ source, pem: c[source], info: tryCertificateInfo(c[source]) }))
    .filter((x): x is { source: 'host' | 'local'; pem: string; info: CertificateInfo } => x.pem !== undefined && usable(x.info, c.spkiSha256, c.now))
    .sort((a, b) => b.info.notBefore.getTime() - a.info.notBefore.getTime());
  const best = candidates[0];
  return best ? { pem: best.pem, source: best.source } : { pem: c.selfSigned, source: 'self-signed' };
}

/** Where the n-th certificate (0-based) is kept: the first is certFile itself, then cert-2.pem, … */
export function certPathFor(certFile: string, n: number): string {
  return n === 0 ? certFile : certFile.replace(/(\.pem)?$/, `-${n + 1}.pem`);
}
