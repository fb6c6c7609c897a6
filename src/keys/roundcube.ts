// Roundcube's des_key: it encrypts the IMAP password Roundcube keeps in the session store between
// requests. Made once, when mailrig.yaml first asks for the webmail, never printed, and kept: a new key only logs everyone out, but keeping it in
// the key store means a rebuilt host gets the same one and `mailrig plan` can show it masked.
//
//   .mailrig/secrets/roundcube-des-key   24 characters (base64 of 18 random bytes), 0600
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAtomic } from '../fs/atomic.js';

export const ROUNDCUBE_DES_KEY_FILE = 'secrets/roundcube-des-key';

/** Makes the key when the store has none; returns whether it did. */
export function ensureRoundcubeDesKey(dir: string): boolean {
  const path = join(dir, ROUNDCUBE_DES_KEY_FILE);
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Roundcube wants exactly 24 characters (a 3DES key's length).
  createAtomic(path, `${randomBytes(18).toString('base64')}\n`, 0o600);
  return true;
}

/** The stored key; undefined until the webmail is first configured (the project loader makes it then). */
export function loadRoundcubeDesKey(dir: string): string | undefined {
  const path = join(dir, ROUNDCUBE_DES_KEY_FILE);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}
