// CA-issued certificates for unit tests, made on the spot: a throwaway CA signs a leaf for a given key,
// names and validity, so tests of the renewal decision and certificate choice need no ACME server.
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const ALG = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN = { name: 'ECDSA', hash: 'SHA-256' };
const crypto = webcrypto as Parameters<typeof x509.X509CertificateGenerator.create>[1];

async function importPair(keyPem: string): Promise<webcrypto.CryptoKeyPair> {
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' }), ALG, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(keyPem).export({ type: 'spki', format: 'der' }), ALG, true, ['verify']),
  } as webcrypto.CryptoKeyPair;
}

let ca: Promise<webcrypto.CryptoKeyPair> | undefined;

/** A leaf for `keyPem` issued by "CN=Test CA" (a key made once per process). */
export async function caIssued(keyPem: string, names: string[], notBefore: Date, notAfter: Date, serial = '0a01'): Promise<string> {
  ca ??= webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const caKeys = await ca;
  const leaf = await importPair(keyPem);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      subject: `CN=${names[0] ?? 'x'}`,
      issuer: 'CN=Test CA',
      notBefore,
      notAfter,
      signingKey: caKeys.privateKey,
      publicKey: leaf.publicKey,
      signingAlgorithm: SIGN,
      extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
    },
    crypto,
  );
  return `${cert.toString('pem')}\n`;
}
