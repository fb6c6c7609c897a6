// Roundcube's des_key: it encrypts the IMAP password Roundcube keeps in the session store between
// requests. Made once, when mailrig.yaml first asks for the webmail, never printed, and kept: a new key only logs everyone out, but keeping it in
// the key store means a rebuilt host gets the same one and `mailrig plan` can show it masked.
//
//   .mailrig/secrets/roundcube-des-key   24 characters (base64 of 18 random bytes), 0600
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRandomSecret } from './secret.js';

export const ROUNDCUBE_DES_KEY_FILE = 'secrets/roundcube-des-key';

/** Makes the key when the store has none; returns whether it did. */
export function ensureRoundcubeDesKey(dir: string): boolean {
  // Roundcube wants exactly 24 characters (a 3DES key's length).
  return ensureRandomSecret(dir, ROUNDCUBE_DES_KEY_FILE, 18);
}

/** The stored key; undefined until the webmail is first configured (the project loader makes it then). */
export function loadRoundcubeDesKey(dir: string): string | undefined {
  const path = join(dir, ROUNDCUBE_DES_KEY_FILE);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}
