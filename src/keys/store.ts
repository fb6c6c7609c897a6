// The key store: .mailrig/ beside mailrig.yaml (mode 0700, ignored by git). It holds every private key
// mailrig makes, generated at init so that every DNS record (DKIM, TLSA) can be printed before the
// server exists. Keys that exist are never regenerated here. This module is the only reader and
// writer of keys.json; every file it writes is written whole or not at all (fs/atomic.ts).
//
//   .mailrig/.gitignore              ignores everything
//   .mailrig/keys.json               which DKIM selectors each domain has and their state, and the
//                                    public values of every private key (see "public values" below)
//   .mailrig/dkim/<domain>/<selector>.pem   DKIM private keys (RSA-2048 and Ed25519), PKCS#8
//   .mailrig/tls/current.key         the server's TLS key (ECDSA P-256)
//   .mailrig/tls/next.key            the pre-published next key, for DANE rollover
//   .mailrig/tls/selfsigned.crt      self-signed certificate from the current key, until ACME replaces it
//   .mailrig/acme/account.key        the ACME account key (ECDSA P-256)
//   .mailrig/secrets/rspamd-controller   the rspamd controller's password (only its hash goes to the host)
//   .mailrig/secrets/rspamd-controller.hash   that hash, made once (Catena takes about a second)
//   .mailrig/secrets/srs             postsrsd's secret for rewritten sender addresses (see srs.ts)
//   .mailrig/secrets/roundcube-des-key  Roundcube's session encryption key (see roundcube.ts)
//   .mailrig/secrets/relay/<host>    relay passwords, set by `mailrig relay password` (see relay.ts)
//   .mailrig/secrets/restic-*        backup secrets, made by `mailrig backup init` (see backup.ts)
//   .mailrig/replication/            the standby's replication key pair and its pinned host key (see replication.ts)
//   .mailrig/config-cache.json       what validating mailrig.yaml produced (see config/load.ts)
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyStoreError } from '../errors.js';
import { createAtomic, writeAtomic } from '../fs/atomic.js';
import { certificateNames } from './names.js';
import { loadBackupSecrets, type BackupSecrets } from './backup.js';
import { rspamdPasswordHash } from './rspamd-password.js';
import { loadRelayPasswords } from './relay.js';
import type { ReplicationKeys } from './replication.js';
import { SRS_SECRET_FILE, ensureSrsSecret, loadSrsSecret } from './srs.js';
import { loadRoundcubeDesKey } from './roundcube.js';

export type DkimAlgorithm = 'rsa' | 'ed25519';
// next: published ahead, not signing yet; retiring: replaced, still published while mail signed with it
// is in flight (see rotation.ts); retired: neither published nor signing, the key file is kept.
export type DkimState = 'active' | 'next' | 'retiring' | 'retired';

export interface DkimSelector {
  selector: string;
  algorithm: DkimAlgorithm;
  state: DkimState;
}

/** A selector as keys.json stores it; the timestamps are ISO strings, absent on keys made by init. */
export interface StoredSelector extends DkimSelector {
  /** When the key entered its current state. */
  since?: string;
  /** retiring: the earliest time a rotation's finish may retire it. */
  retireAfter?: string;
}

/** What a private key publishes, derived from it once, when it is made. */
export interface PublicValues {
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: the TLSA 3 1 1 value. */
  spkiSha256: string;
  /** The p= value of a DKIM TXT record (RSA and Ed25519 keys). */
  dkim?: string;
}

/** keys.json. Keys it does not know are kept as they are. */
export interface KeysFile {
  dkim: Record<string, StoredSelector[]>;
  /** Public values by the SHA-256 (hex) of the private key's PEM text, so a renamed key keeps its entry. */
  public?: Record<string, PublicValues>;
  [other: string]: unknown;
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
  /** Its hash in `rspamadm pw` form: what the host gets. */
  rspamdControllerHash: string;
  /** postsrsd's secret (keys/srs.ts): the host gets it in a root-only file. */
  srsSecret: string;
  /** Roundcube's des_key (keys/roundcube.ts), once webmail was configured: the host gets it in a file only www-data can read. */
  roundcubeDesKey?: string | undefined;
  /** Relay passwords by host name (keys/relay.ts), set by `mailrig relay password`. */
  relayPasswords: Record<string, string>;
  /** Self-signed certificates of the hosts beside the primary, by host name (keys/host-cert.ts). */
  hostCertPems?: Record<string, string> | undefined;
  /** PEM of relay.ca_file, read beside mailrig.yaml by the project loader; undefined without one. */
  relayCaPem?: string | undefined;
  /** The standby's replication key pair and pinned host key (keys/replication.ts), when there is a standby. */
  replication?: ReplicationKeys | undefined;
  /** restic password and environment (keys/backup.ts), once `mailrig backup init` made them. */
  backup?: BackupSecrets | undefined;
}

/** The public parts only: enough for DNS records, never a private key. */
export interface PublicKeys {
  dkim: Array<Omit<DkimKey, 'privatePem'>>;
  tlsa: { current: string; next: string };
}

const PRIVATE_MODE = 0o600;
const CONTROLLER_SECRET = 'secrets/rspamd-controller';
const CONTROLLER_HASH = 'secrets/rspamd-controller.hash';

/** A file system error (not one of ours): a store that cannot be written is only slower next time. */
const isFsError = (e: unknown) => typeof (e as NodeJS.ErrnoException).code === 'string';

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

function publicValuesOf(key: KeyObject): PublicValues {
  const type = key.asymmetricKeyType;
  return { spkiSha256: spkiSha256(key), ...(type === 'rsa' || type === 'ed25519' ? { dkim: dkimPublicValue(key) } : {}) };
}

const fingerprint = (pem: string) => createHash('sha256').update(pem).digest('hex');

export type KeyKind = DkimAlgorithm | 'ec';

export interface NewKey {
  /** PKCS#8 PEM. */
  pem: string;
  public: PublicValues;
}

/** The one key generator: RSA-2048 and Ed25519 for DKIM, ECDSA P-256 for TLS and the ACME account. */
export function generateKey(kind: KeyKind): NewKey {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), public: publicValuesOf(pair.publicKey) };
}

/** Writes a private key that must not exist yet (never replaces one), whole or not at all. */
function writePrivate(path: string, pem: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  createAtomic(path, pem, PRIVATE_MODE);
}

// ---- keys.json ---------------------------------------------------------------------------------

export function readKeysFile(dir: string): KeysFile {
  assertSafe(dir);
  return readIndex(dir);
}

function readIndex(dir: string): KeysFile {
  const path = join(dir, 'keys.json');
  if (!existsSync(path)) return { dkim: {} };
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as KeysFile;
    return { ...parsed, dkim: parsed.dkim ?? {} };
  } catch (e) {
    throw new KeyStoreError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function writeIndex(dir: string, index: KeysFile): void {
  writeAtomic(join(dir, 'keys.json'), `${JSON.stringify(index, null, 2)}\n`, PRIVATE_MODE);
}

/** Reads keys.json, lets `change` edit it, writes it back whole. */
function updateIndex(dir: string, change: (index: KeysFile) => void): void {
  const index = readIndex(dir);
  change(index);
  writeIndex(dir, index);
}

/** Replaces the selector list of `domain` in keys.json (a rotation step; see rotation.ts). */
export function saveSelectors(dir: string, domain: string, selectors: StoredSelector[]): void {
  assertSafe(dir);
  updateIndex(dir, (index) => {
    index.dkim[domain] = selectors;
  });
}

/** Creates the private keys of `added` selectors under dkim/<domain>/ (never overwriting one) and records their public values. */
export function generateSelectorKeys(dir: string, domain: string, added: Array<{ selector: string; algorithm: DkimAlgorithm }>): string[] {
  assertSafe(dir);
  const made: Record<string, PublicValues> = {};
  const recorded = new Set((readIndex(dir).dkim[domain] ?? []).map((s) => s.selector));
  const files = added.map(({ selector, algorithm }) => {
    const file = join('dkim', domain, `${selector}.pem`);
    // A file of a selector keys.json does not know was left by a run stopped before recording it:
    // never published, so it is replaced rather than kept in the way.
    if (!recorded.has(selector)) rmSync(join(dir, file), { force: true });
    const key = generateKey(algorithm);
    writePrivate(join(dir, file), key.pem);
    made[fingerprint(key.pem)] = key.public;
    return file;
  });
  updateIndex(dir, (index) => {
    index.public = { ...index.public, ...made };
  });
  return files;
}

/** Writes a new TLS key (a fresh ECDSA P-256 one by default) at `file`, which must not exist yet, and records its public values. */
export function createTlsKey(dir: string, file: string, key: NewKey = generateKey('ec')): void {
  writePrivate(join(dir, file), key.pem);
  updateIndex(dir, (index) => {
    index.public = { ...index.public, [fingerprint(key.pem)]: key.public };
  });
}

function createDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const ignore = join(dir, '.gitignore');
  if (!existsSync(ignore)) writeAtomic(ignore, '# Private keys: never commit anything in here.\n*\n', 0o600);
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
  const made: Record<string, PublicValues> = {};
  const make = (file: string, kind: KeyKind) => {
    const key = generateKey(kind);
    writePrivate(join(dir, file), key.pem);
    made[fingerprint(key.pem)] = key.public;
    created.push(file);
  };
  for (const domain of opts.domains) {
    const selectors = index.dkim[domain] ?? [];
    if (!selectors.some((s) => s.state === 'active')) {
      // Key files nobody recorded (a run killed before keys.json was written) keep their names too.
      const names = newSelectorNames([...selectors.map((s) => s.selector), ...keyFileNames(join(dir, 'dkim', domain))], opts.now);
      for (const algorithm of ['rsa', 'ed25519'] as const) {
        make(join('dkim', domain, `${names[algorithm]}.pem`), algorithm);
        selectors.push({ selector: names[algorithm], algorithm, state: 'active' });
      }
    }
    index.dkim[domain] = selectors;
  }
  for (const file of ['tls/current.key', 'tls/next.key', 'acme/account.key']) {
    if (!existsSync(join(dir, file))) make(file, 'ec');
  }
  index.public = { ...index.public, ...made };
  writeIndex(dir, index);
  const secretPath = join(dir, CONTROLLER_SECRET);
  if (!existsSync(secretPath)) {
    const password = randomBytes(24).toString('base64url');
    mkdirSync(dirname(secretPath), { recursive: true, mode: 0o700 });
    createAtomic(secretPath, `${password}\n`, PRIVATE_MODE);
    writeControllerHash(dir, password);
    created.push(CONTROLLER_SECRET);
  }
  if (ensureSrsSecret(dir)) created.push(SRS_SECRET_FILE);
  const certPath = join(dir, 'tls/selfsigned.crt');
  const names = certificateNames(opts.hostname, opts.domains);
  if (!existsSync(certPath) || !sameNames(readFileSync(certPath, 'utf8'), names)) {
    // Loaded only here: the certificate library costs every other command start-up time.
    const { makeSelfSignedCertificate } = await import('./selfsigned.js');
    const pem = await makeSelfSignedCertificate(readFileSync(join(dir, 'tls/current.key'), 'utf8'), names, opts.now);
    writeAtomic(certPath, pem, 0o644);
    created.push('tls/selfsigned.crt');
  }
  return created;
}

function keyFileNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.pem')).map((n) => n.slice(0, -4));
  } catch {
    return [];
  }
}

function sameNames(certPem: string, names: string[]): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return false; // not a certificate (any more): made again
  }
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
      else if (/\.(pem|key)$/.test(entry.name) || d.endsWith('secrets') || d.includes('/secrets/')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

// ---- loading -----------------------------------------------------------------------------------

/** secrets/rspamd-controller.hash: "<SHA-256 of the password, hex> <hash>", so a changed password is noticed. */
function writeControllerHash(dir: string, password: string): string {
  const hash = rspamdPasswordHash(password);
  try {
    writeAtomic(join(dir, CONTROLLER_HASH), `${fingerprint(password)} ${hash}\n`, PRIVATE_MODE);
  } catch (e) {
    if (!isFsError(e)) throw e;
  }
  return hash;
}

function controllerHash(dir: string, password: string): string {
  const path = join(dir, CONTROLLER_HASH);
  const [tag, hash] = existsSync(path) ? readFileSync(path, 'utf8').trim().split(' ') : [];
  if (tag === fingerprint(password) && hash) return hash;
  // A store made before the hash was kept, or a password changed by hand: made once, then kept.
  return writeControllerHash(dir, password);
}

/**
 * Reads private keys and their public values. A key without recorded values (a store written before
 * they were kept, or a key replaced by hand) is parsed once here and its values are recorded by save().
 */
class KeyReader {
  private readonly known: Record<string, PublicValues>;
  private readonly derived: Record<string, PublicValues> = {};

  constructor(
    private readonly dir: string,
    index: KeysFile,
  ) {
    this.known = index.public ?? {};
  }

  read(file: string): { privatePem: string; public: PublicValues } {
    const path = join(this.dir, file);
    if (!existsSync(path)) throw new KeyStoreError(`${path}: missing; run mailrig init to create the keys`);
    const privatePem = readFileSync(path, 'utf8');
    const print = fingerprint(privatePem);
    const known = this.known[print] ?? this.derived[print];
    if (known) return { privatePem, public: known };
    let key: KeyObject;
    try {
      key = createPublicKey(createPrivateKey(privatePem));
    } catch {
      throw new KeyStoreError(`${path}: not a private key in PEM form`);
    }
    const values = publicValuesOf(key);
    this.derived[print] = values;
    return { privatePem, public: values };
  }

  /** Records derived values in keys.json. */
  save(): void {
    if (Object.keys(this.derived).length === 0) return;
    try {
      updateIndex(this.dir, (index) => {
        index.public = { ...index.public, ...this.derived };
      });
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
  }
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
  const reader = new KeyReader(dir, index);
  const dkim: DkimKey[] = [];
  for (const domain of domains) {
    const selectors = (index.dkim[domain] ?? []).filter((s) => s.state !== 'retired');
    if (!selectors.some((s) => s.state === 'active')) {
      throw new KeyStoreError(`${dir}: no DKIM keys for ${domain}; mailrig domain add ${domain} makes them`);
    }
    for (const s of selectors) {
      const path = join('dkim', domain, `${s.selector}.pem`);
      const key = reader.read(path);
      if (key.public.dkim === undefined) throw new KeyStoreError(`${join(dir, path)}: not an RSA or Ed25519 key`);
      dkim.push({ ...s, domain, privatePem: key.privatePem, publicValue: key.public.dkim });
    }
  }
  const tlsKey = (file: string): TlsKey => {
    const key = reader.read(file);
    return { privatePem: key.privatePem, spkiSha256: key.public.spkiSha256 };
  };
  const certPath = join(dir, 'tls/selfsigned.crt');
  const remake = domains[0] === undefined ? 'mailrig init' : `mailrig domain add ${domains[0]}`;
  if (!existsSync(certPath)) throw new KeyStoreError(`${certPath}: missing; ${remake} makes it again`);
  const selfSignedCertPem = readFileSync(certPath, 'utf8');
  let certKey: string;
  try {
    certKey = spkiSha256(new X509Certificate(selfSignedCertPem).publicKey);
  } catch (e) {
    throw new KeyStoreError(`${certPath}: not a certificate in PEM form (${(e as Error).message}); remove it, and ${remake} makes a new one`);
  }
  const tls = { current: tlsKey('tls/current.key'), next: tlsKey('tls/next.key'), selfSignedCertPem };
  if (certKey !== tls.current.spkiSha256) {
    throw new KeyStoreError(`${certPath}: certifies another key than tls/current.key; remove it, and ${remake} makes a new one`);
  }
  const acmeAccountPem = reader.read('acme/account.key').privatePem;
  reader.save();
  const rspamdControllerPassword = readSecret(dir, CONTROLLER_SECRET);
  return {
    dir,
    dkim,
    tls,
    acmeAccountPem,
    rspamdControllerPassword,
    rspamdControllerHash: controllerHash(dir, rspamdControllerPassword),
    srsSecret: loadSrsSecret(dir),
    roundcubeDesKey: loadRoundcubeDesKey(dir),
    relayPasswords: loadRelayPasswords(dir),
    backup: loadBackupSecrets(dir),
  };
}

export function publicKeys(keys: KeyMaterial): PublicKeys {
  return {
    dkim: keys.dkim.map(({ privatePem: _omit, ...pub }) => pub),
    tlsa: { current: keys.tls.current.spkiSha256, next: keys.tls.next.spkiSha256 },
  };
}
