// The SRS secret: postsrsd signs the sender addresses it rewrites with it, and accepts a bounce to a
// rewritten address only if its signature checks out. Made once, never printed, and kept: a new
// secret would turn away the bounces to every address rewritten before it (and a standby host must
// share it to reverse them).
//
//   .mailrig/secrets/srs   the secret (base64 of 32 random bytes), 0600
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRandomSecret } from './secret.js';

export const SRS_SECRET_FILE = 'secrets/srs';

/** Makes the secret when the store has none; returns whether it did. */
export function ensureSrsSecret(dir: string): boolean {
  return ensureRandomSecret(dir, SRS_SECRET_FILE, 32);
}

/** The stored secret, made on first use so that every key store has one. */
export function loadSrsSecret(dir: string): string {
  ensureSrsSecret(dir);
  return readFileSync(join(dir, SRS_SECRET_FILE), 'utf8').trim();
}
