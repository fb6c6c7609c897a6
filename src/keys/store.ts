// The key store: .mailrig/ beside mailrig.yaml (mode 0700, ignored by git). It holds every private key
// mailrig makes, generated at init so that every DNS record (DKIM, TLSA) can be printed before the
// server exists. Keys that exist are never regenerated here.
//
//   .mailrig/.gitignore              ignores everything
//   .mailrig/keys.json               which DKIM selectors each domain has, and their state
//   .mailrig/dkim/<domain>/<selector>.pem   DKIM private keys (RSA-2048 and Ed25519), PKCS#8
//   .mailrig/tls/current.key         the server's TLS key (ECDSA P-256)
//   .mailrig/tls/next.key            the pre-published next key, for DANE rollover
//   .mailrig/tls/selfsigned.crt      self-signed certificate from the current key, until ACME replaces it
//   .mailrig/acme/account.key        the ACME account key (ECDSA P-256)
//   .mailrig/secrets/rspamd-controller   the rspamd controller's password (only its hash goes to the host)
//   .mailrig/secrets/restic-*        backup secrets, made by `mailrig backup init` (see backup.ts)
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyStoreError } from '../errors.js';
import { certificateNames } from './names.js';
import { loadBackupSecrets, type BackupSecrets } from './backup.js';

export type DkimAlgorithm = 'rsa' | 'ed25519';
// next: published ahead, not signing yet; retiring: replaced, still published while mail signed with it
// is in flight (see rotation.ts); retired: neither published nor signing, the key file is kept.
export type DkimState = 'active' | 'next' | 'retiring' | 'retired';

export interface DkimSelector {
  selector: string;
  algorithm: DkimAlgorithm;
  state: DkimState;
}

interface KeysIndex {
  dkim: Record<string, DkimSelector[]>;
}

export interface DkimKey extends DkimSelector {
  domain: string;
  /** PKCS#8 PEM. */
  privatePem: string;
  /** The p= value of the DKIM TXT record. */
  publicValue: string;
}

export interface TlsKey {
  privatePem: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: the TLSA 3 1 1 value. */
  spkiSha256: string;
}

export interface KeyMaterial {
  dir: string;
  dkim: DkimKey[];
  tls: { current: TlsKey; next: TlsKey; selfSignedCertPem: string };
  acmeAccountPem: string;
  /** Password of rspamd's web controller (bound to loopback); the host gets only its hash. */
  rspamdControllerPassword: string;
  /** Its hash, when already computed (Catena is slow by design); see src/pipeline/project.ts. */
  rspamdControllerHash?: string;
  /** restic password and environment (keys/backup.ts), once `mailrig backup init` made them. */
  backup?: BackupSecrets | undefined;
}

/** The public parts only: enough for DNS records, never a private key. */
export interface PublicKeys {
  dkim: Array<Omit<DkimKey, 'privatePem'>>;
  tlsa: { current: string; next: string };
}

const PRIVATE_MODE = 0o600;

export function keyDirFor(configPath: string): string {
  return join(dirname(configPath), '.mailrig');
}

/** The selector names a new key pair gets: r<date> for RSA and e<date> for Ed25519, unique per domain. */
export function newSelectorNames(existing: string[], now = new Date()): { rsa: string; ed25519: string } {
  const stamp = now.toISOString().slice(0, 10).replace(/-/g, '');
  let n = 0;
  const name = (p: string) => `${p}${stamp}${n === 0 ? '' : `-${n}`}`;
  while (existing.includes(name('r')) || existing.includes(name('e'))) n++;
  return { rsa: name('r'), ed25519: name('e') };
}

export function dkimPublicValue(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  // RFC 8463: an Ed25519 DKIM record carries the bare 32-byte key, RSA the whole SubjectPublicKeyInfo.
  return (key.asymmetricKeyType === 'ed25519' ? spki.subarray(spki.length - 32) : spki).toString('base64');
}

export function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

function generate(kind: DkimAlgorithm | 'ec'): string {
  const opts =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return opts.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function writePrivate(path: string, pem: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, pem, { mode: PRIVATE_MODE, flag: 'wx' });
}

function readIndex(dir: string): KeysIndex {
  const path = join(dir, 'keys.json');
  if (!existsSync(path)) return { dkim: {} };
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as KeysIndex;
  } catch (e) {
    throw new KeyStoreError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function writeIndex(dir: string, index: KeysIndex): void {
  writeFileSync(join(dir, 'keys.json'), `${JSON.stringify(index, null, 2)}\n`, { mode: PRIVATE_MODE });
}

function createDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const ignore = join(dir, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# Private keys: never commit anything in here.\n*\n', { mode: 0o600 });
}

export interface EnsureOptions {
  /** ASCII names of the mail domains; each gets an RSA and an Ed25519 DKIM key. */
  domains: string[];
  /** The mail host name, for the self-signed certificate. */
  hostname: string;
  now?: Date;
}

/**
 * Creates whatever is missing in the key store and returns what was created (paths relative to it).
 * Existing keys are never touched; the self-signed certificate is remade only when its names change.
 */
export async function ensureKeys(dir: string, opts: EnsureOptions): Promise<string[]> {
  createDir(dir);
  assertSafe(dir);
  const created: string[] = [];
  const index = readIndex(dir);
  for (const domain of opts.domains) {
    const selectors = index.dkim[domain] ?? [];
    if (!selectors.some((s) => s.state === 'active')) {
      const names = newSelectorNames(selectors.map((s) => s.selector), opts.now);
      for (const algorithm of ['rsa', 'ed25519'] as const) {
        const file = join('dkim', domain, `${names[algorithm]}.pem`);
        writePrivate(join(dir, file), generate(algorithm));
        selectors.push({ selector: names[algorithm], algorithm, state: 'active' });
        created.push(file);
      }
    }
    index.dkim[domain] = selectors;
  }
  writeIndex(dir, index);
  for (const file of ['tls/current.key', 'tls/next.key', 'acme/account.key']) {
    if (!existsSync(join(dir, file))) {
      writePrivate(join(dir, file), generate('ec'));
      created.push(file);
    }
  }
  const secretPath = join(dir, 'secrets/rspamd-controller');
  if (!existsSync(secretPath)) {
    mkdirSync(dirname(secretPath), { recursive: true, mode: 0o700 });
    writeFileSync(secretPath, `${randomBytes(24).toString('base64url')}\n`, { mode: PRIVATE_MODE, flag: 'wx' });
    created.push('secrets/rspamd-controller');
  }
  const certPath = join(dir, 'tls/selfsigned.crt');
  const names = certificateNames(opts.hostname, opts.domains);
  if (!existsSync(certPath) || !sameNames(readFileSync(certPath, 'utf8'), names)) {
    // Loaded only here: the certificate library costs every other command start-up time.
    const { makeSelfSignedCertificate } = await import('./selfsigned.js');
    const pem = await makeSelfSignedCertificate(readFileSync(join(dir, 'tls/current.key'), 'utf8'), names, opts.now);
    writeFileSync(certPath, pem, { mode: 0o644 });
    created.push('tls/selfsigned.crt');
  }
  return created;
}

function sameNames(certPem: string, names: string[]): boolean {
  const cert = new X509Certificate(certPem);
  const have = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^DNS:/, ''))
    .sort();
  return JSON.stringify(have) === JSON.stringify([...names].sort());
}

/** Refuses a key store that others can read: the directory must be 0700, private keys 0600 or tighter. */
export function assertSafe(dir: string): void {
  if (!existsSync(dir)) throw new KeyStoreError(`${dir}: the key store does not exist; run mailrig init`);
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) {
    throw new KeyStoreError(
      `${dir}: mode ${mode.toString(8).padStart(4, '0')} lets others in; a key store must be 0700 (chmod 700 ${dir})`,
    );
  }
  for (const file of listPrivateFiles(dir)) {
    const fmode = statSync(file).mode & 0o777;
    if (fmode & 0o077) {
      throw new KeyStoreError(
        `${file}: mode ${fmode.toString(8).padStart(4, '0')} lets others read a private key; it must be 0600 (chmod 600 ${file})`,
      );
    }
  }
}

function listPrivateFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(pem|key)$/.test(entry.name) || d.endsWith('secrets')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function readTlsKey(dir: string, file: string): TlsKey {
  const privatePem = readKeyFile(dir, file);
  return { privatePem, spkiSha256: spkiSha256(createPublicKey(privatePem)) };
}

function readKeyFile(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new KeyStoreError(`${path}: missing; run mailrig init to create the keys`);
  const pem = readFileSync(path, 'utf8');
  try {
    createPrivateKey(pem);
  } catch {
    throw new KeyStoreError(`${path}: not a private key in PEM form`);
  }
  return pem;
}

function readSecret(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new KeyStoreError(`${path}: missing; run mailrig init to create it`);
  return readFileSync(path, 'utf8').trim();
}

/** Every key mailrig needs for `domains`, checked for safe modes first. */
export function loadKeys(dir: string, domains: string[]): KeyMaterial {
  assertSafe(dir);
  const index = readIndex(dir);
  const dkim: DkimKey[] = [];
  for (const domain of domains) {
    const selectors = (index.dkim[domain] ?? []).filter((s) => s.state !== 'retired');
    if (!selectors.some((s) => s.state === 'active')) {
      throw new KeyStoreError(`${dir}: no DKIM keys for ${domain}; run mailrig init (or mailrig domain add ${domain})`);
    }
    for (const s of selectors) {
      const privatePem = readKeyFile(dir, join('dkim', domain, `${s.selector}.pem`));
      dkim.push({ ...s, domain, privatePem, publicValue: dkimPublicValue(createPublicKey(privatePem)) });
    }
  }
  const certPath = join(dir, 'tls/selfsigned.crt');
  if (!existsSync(certPath)) throw new KeyStoreError(`${certPath}: missing; run mailrig init`);
  return {
    dir,
    dkim,
    tls: {
      current: readTlsKey(dir, 'tls/current.key'),
      next: readTlsKey(dir, 'tls/next.key'),
      selfSignedCertPem: readFileSync(certPath, 'utf8'),
    },
    acmeAccountPem: readKeyFile(dir, 'acme/account.key'),
    rspamdControllerPassword: readSecret(dir, 'secrets/rspamd-controller'),
    backup: loadBackupSecrets(dir),
  };
}

export function publicKeys(keys: KeyMaterial): PublicKeys {
  return {
    dkim: keys.dkim.map(({ privatePem: _omit, ...pub }) => pub),
    tlsa: { current: keys.tls.current.spkiSha256, next: keys.tls.next.spkiSha256 },
  };
}
