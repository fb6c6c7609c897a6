// known_hosts, the way OpenSSH reads it: plain and hashed (|1|salt|hmac) host patterns, wildcards
// and negations, [host]:port for non-standard ports, @revoked markers. Pure functions over the
// file's text, plus verifyHostKey: the policy the SSH transport applies to the key a server offers.
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { matchPattern } from './sshconfig.js';
import { HostKeyChangedError, HostKeyUnknownError, TransportError } from './transport.js';

export interface KnownHostEntry {
  /** 1-based line in the file, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  patterns: string;
  keyType: string;
  /** The key blob, base64 as in the file. */
  key: string;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  /** Keys of this type are recorded for the host, none of them is the one offered. */
  | { status: 'changed'; entries: KnownHostEntry[] }
  /** Nothing of this type is recorded; otherTypes lists the types that are (usually none). */
  | { status: 'unknown'; otherTypes: string[] };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    }
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) return; // malformed lines are skipped, as ssh does
    entries.push({ line: i + 1, ...(marker ? { marker } : {}), patterns, keyType, key });
  });
  return entries;
}

/** The name ssh looks up: host for port 22, [host]:port otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Does one known_hosts host field (comma-separated patterns, or one |1| hash) name `name`? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    if (!matchPattern(negated ? pattern.slice(1) : pattern, name.toLowerCase(), true)) continue;
    if (negated) return false; // a matching negation vetoes the whole line
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

/** What known_hosts says about `key` (an SSH wire-format public key blob) offered by name. */
export function checkHostKey(entries: readonly KnownHostEntry[], hostName: string, key: Buffer): HostKeyVerdict {
  const name = hostName.toLowerCase(); // ssh looks up (and hashes) lower-case names
  const keyType = keyTypeOf(key);
  const keyB64 = key.toString('base64');
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && hostFieldMatches(e.patterns, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key === keyB64);
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key === keyB64);
  if (same) return { status: 'known', entry: same };
  const sameType = plain.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) return { status: 'changed', entries: sameType };
  return { status: 'unknown', otherTypes: [...new Set(plain.map((e) => e.keyType))] };
}

/** Key types recorded for name, so the connection can ask the server for one of those first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], hostName: string): string[] {
  const name = hostName.toLowerCase();
  return [...new Set(entries.filter((e) => !e.marker && hostFieldMatches(e.patterns, name)).map((e) => e.keyType))];
}

/** The algorithm name inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint: SHA256:<unpadded base64 of the blob's SHA-256>. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function fingerprintOfEntry(entry: KnownHostEntry): string {
  return fingerprint(Buffer.from(entry.key, 'base64'));
}

/** Records a newly accepted key (creating ~/.ssh 0700 and the file 0600 if needed). */
export async function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const before = await readFile(file).catch(() => Buffer.alloc(0));
  const separator = before.length > 0 && before[before.length - 1] !== 0x0a ? '\n' : '';
  await appendFile(file, `${separator}${name.toLowerCase()} ${keyTypeOf(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}

export interface HostKeyQuestion {
  /** The name as known_hosts records it: host, or [host]:port. */
  host: string;
  keyType: string;
  fingerprint: string;
  /** Key types already recorded for this host (non-empty means: known, but not with this type). */
  otherKnownTypes: string[];
}

/** Asked about a host key known_hosts does not have; true accepts (and records) it. */
export type ConfirmHostKey = (question: HostKeyQuestion) => Promise<boolean>;

export interface HostKeyPolicy {
  knownHostsFile: string;
  /** Missing: unknown keys are refused. */
  confirmHostKey?: ConfirmHostKey;
}

/**
 * Decides on the key a server offered: resolves when it may be trusted (after recording a newly
 * accepted one), rejects with the typed error to show otherwise.
 */
export async function verifyHostKey(policy: HostKeyPolicy, host: string, port: number, key: Buffer): Promise<void> {
  const name = knownHostsName(host, port);
  const text = await readFile(policy.knownHostsFile, 'utf8').catch(() => '');
  const verdict = checkHostKey(parseKnownHosts(text), name, key);
  const offered = fingerprint(key);
  switch (verdict.status) {
    case 'known':
      return;
    case 'revoked':
      throw new TransportError(`the host key of ${name} (${offered}) is marked @revoked in ${policy.knownHostsFile}:${verdict.entry.line}`);
    case 'changed':
      throw new HostKeyChangedError(name, verdict.entries.map(fingerprintOfEntry), offered, policy.knownHostsFile);
    case 'unknown': {
      const question = { host: name, keyType: keyTypeOf(key), fingerprint: offered, otherKnownTypes: verdict.otherTypes };
      if (!policy.confirmHostKey || !(await policy.confirmHostKey(question))) throw new HostKeyUnknownError(name, offered);
      await appendKnownHost(policy.knownHostsFile, name, key);
    }
  }
}

/** ssh2 host key algorithm names for a known_hosts key type. */
export function algorithmsForKeyType(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}
