// Roundcube's des_key: it encrypts the IMAP password Roundcube keeps in the session store between
// requests. Made once, never printed, and kept: a new key only logs everyone out, but keeping it in
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

/** The stored key, made on first use so that every key store has one. */
export function loadRoundcubeDesKey(dir: string): string {
  ensureRoundcubeDesKey(dir);
  return readFileSync(join(dir, ROUNDCUBE_DES_KEY_FILE), 'utf8').trim();
}
