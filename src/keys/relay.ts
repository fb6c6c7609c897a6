// Relay passwords in the key store, one file per relay host, written by `mailrig relay password`.
// They go to the host only inside Postfix's password table (root:root 0600, its lmdb too).
//
//   .mailrig/secrets/relay/<host>   the password for the login mailrig.yaml gives that host
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../fs/atomic.js';

export const RELAY_SECRETS_DIR = 'secrets/relay';

/** The key-store file of a relay host's password. */
export function relayPasswordPath(dir: string, host: string): string {
  return join(dir, RELAY_SECRETS_DIR, host.toLowerCase());
}

/** Stores a relay host's password; returns whether the file changed. */
export function saveRelayPassword(dir: string, host: string, password: string): boolean {
  const path = relayPasswordPath(dir, host);
  const text = `${password}\n`;
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, RELAY_SECRETS_DIR), { recursive: true, mode: 0o700 });
  writeAtomic(path, text, 0o600);
  return true;
}

/** Every stored relay password, by host name. */
export function loadRelayPasswords(dir: string): Record<string, string> {
  const base = join(dir, RELAY_SECRETS_DIR);
  if (!existsSync(base)) return {};
  const out: Record<string, string> = {};
  for (const host of readdirSync(base).sort()) {
    if (host.startsWith('.') || host.includes('.mailrig-')) continue;
    out[host] = readFileSync(join(base, host), 'utf8').replace(/\r?\n$/, '');
  }
  return out;
}
