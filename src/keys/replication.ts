// The standby's replication: the SSH key the primary logs in to the standby with (to run only
// `doveadm dsync-server`, see render/replication.ts), and the standby's SSH host key the primary pins.
// Made once, the first time mailrig.yaml lists a standby, and then only read. The host keys of the
// hosts that hold the mailboxes (primary and standby) are recorded each time mailrig reaches them
// (checked against the operator's known_hosts then): after a failover with the old primary down, the
// new primary still pins the right key for it.
//
//   .mailrig/replication/id_ed25519        the private key (OpenSSH form), 0600
//   .mailrig/replication/id_ed25519.pub    its public key
//   .mailrig/replication/<name>.host_key   the host key of the host named <name>: "<type> <base64>"
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { KeyStoreError } from '../errors.js';
import { createAtomic, writeAtomic } from '../fs/atomic.js';
import { isHostKeyLine } from '../host/hostkey.js';

export const REPLICATION_DIR = 'replication';
const PRIVATE = `${REPLICATION_DIR}/id_ed25519`;
const PUBLIC = `${REPLICATION_DIR}/id_ed25519.pub`;
const hostKeyFile = (name: string) => `${REPLICATION_DIR}/${name}.host_key`;

/** The comment the public key carries on the standby, so an operator reading the file knows it. */
export const REPLICATION_KEY_COMMENT = 'mailrig-replication';

export interface ReplicationKeys {
  /** OpenSSH private key: the primary's /etc/mailrig/replication/id_ed25519. */
  privateKey: string;
  /** "ssh-ed25519 <base64>": what the standby's authorized_keys2 allows. */
  publicKey: string;
  /** "<type> <base64>" of the standby's SSH host key; undefined until mailrig first reached it. */
  standbyHostKey: string | undefined;
}

/** The key pair (made when the store has none) and the recorded host key of the standby `standby`. */
export function loadReplicationKeys(dir: string, standby: string): ReplicationKeys {
  const privatePath = join(dir, PRIVATE);
  if (!existsSync(privatePath)) {
    mkdirSync(join(dir, REPLICATION_DIR), { recursive: true, mode: 0o700 });
    const pair = ed25519OpenSsh(REPLICATION_KEY_COMMENT);
    createAtomic(privatePath, pair.private, 0o600);
    writeAtomic(join(dir, PUBLIC), `${pair.public}\n`, 0o644);
  }
  const privateKey = readFileSync(privatePath, 'utf8');
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.type !== 'ssh-ed25519') {
    throw new KeyStoreError(`${privatePath}: not an Ed25519 key in OpenSSH form; remove it (and ${PUBLIC}) and mailrig makes a new pair`);
  }
  const publicKey = `ssh-ed25519 ${parsed.getPublicSSH().toString('base64')}`;
  const hostKeyPath = join(dir, hostKeyFile(standby));
  const recorded = existsSync(hostKeyPath) ? readFileSync(hostKeyPath, 'utf8').trim() : undefined;
  if (recorded !== undefined && !isHostKeyLine(recorded)) {
    throw new KeyStoreError(`${hostKeyPath}: not a host key ("<type> <base64>"); remove it, and the next apply records the host's key again`);
  }
  return { privateKey, publicKey, standbyHostKey: recorded };
}

/** Records the host key of the host `name`; returns whether it differs from the one recorded before. */
export function recordHostKey(dir: string, name: string, line: string): boolean {
  if (!isHostKeyLine(line)) throw new Error(`not a host key line: ${line.slice(0, 40)}`);
  const path = join(dir, hostKeyFile(name));
  if (existsSync(path) && readFileSync(path, 'utf8').trim() === line) return false;
  mkdirSync(join(dir, REPLICATION_DIR), { recursive: true, mode: 0o700 });
  writeAtomic(path, `${line}\n`, 0o644);
  return true;
}

/**
 * A new Ed25519 key pair in OpenSSH's forms: the private key file (openssh-key-v1, unencrypted) and
 * the public key line. Made with Node's crypto rather than ssh2's generator, which writes a public key
 * that begins with a zero byte one byte short (about one key in 300), a file neither ssh2 nor OpenSSH
 * then reads.
 */
export function ed25519OpenSsh(comment: string): { private: string; public: string } {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const pub = Buffer.from(jwk.x ?? '', 'base64url');
  const str = (b: Buffer | string) => {
    const data = typeof b === 'string' ? Buffer.from(b) : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, data]);
  };
  const publicBlob = Buffer.concat([str('ssh-ed25519'), str(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, publicBlob, str(Buffer.concat([seed, pub])), str(comment)]);
  // Padded to the cipher's block size (8 for "none") with the bytes 1, 2, 3, ...
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const one = Buffer.alloc(4);
  one.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('none'), str('none'), str(''), one, str(publicBlob), str(secret)]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    public: `ssh-ed25519 ${publicBlob.toString('base64')} ${comment}`,
  };
}
