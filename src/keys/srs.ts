// The SRS secret: postsrsd signs the sender addresses it rewrites with it, and accepts a bounce to a
// rewritten address only if its signature checks out. Made once, never printed, and kept: a new
// secret would turn away the bounces to every address rewritten before it (and a standby host must
// share it to reverse them).
//
//   .mailrig/secrets/srs   the secret (base64 of 32 random bytes), 0600
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAtomic } from '../fs/atomic.js';

export const SRS_SECRET_FILE = 'secrets/srs';

/** Makes the secret when the store has none; returns whether it did. */
export function ensureSrsSecret(dir: string): boolean {
  const path = join(dir, SRS_SECRET_FILE);
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  createAtomic(path, `${randomBytes(32).toString('base64')}\n`, 0o600);
  return true;
}

/** The stored secret, made on first use so that every key store has one. */
export function loadSrsSecret(dir: string): string {
  ensureSrsSecret(dir);
  return readFileSync(join(dir, SRS_SECRET_FILE), 'utf8').trim();
}
