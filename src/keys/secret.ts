// A random secret in the key store: base64 of `bytes` random bytes in one file (0600, its directory
// 0700), made once and then only read.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAtomic } from '../fs/atomic.js';

/** Makes the secret `file` (relative to the store `dir`) when the store has none; returns whether it did. */
export function ensureRandomSecret(dir: string, file: string, bytes: number): boolean {
  const path = join(dir, file);
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  createAtomic(path, `${randomBytes(bytes).toString('base64')}\n`, 0o600);
  return true;
}
