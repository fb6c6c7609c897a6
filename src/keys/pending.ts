// What apply must still do on the host that mailrig.yaml cannot say — deleting a removed user's
// stored mail (user rm --purge) — kept in .mailrig/pending.json until an apply has done it.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../fs/atomic.js';
import { KeyStoreError } from '../errors.js';
import { assertSafe, keyDirFor } from './store.js';


/** What apply must still do on the host that the config cannot say: deleting a removed user's mail. */
export interface Pending {
  purge: Array<{ address: string; requestedAt: string }>;
}

export function pendingPath(configPath: string): string {
  return join(keyDirFor(resolve(configPath)), 'pending.json');
}

export function readPending(configPath: string): Pending {
  const path = pendingPath(configPath);
  if (!existsSync(path)) return { purge: [] };
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Pending>;
    return { ...parsed, purge: parsed.purge ?? [] };
  } catch (e) {
    throw new KeyStoreError(`${path}: not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

export function writePending(configPath: string, pending: Pending): void {
  assertSafe(keyDirFor(resolve(configPath)));
  writeAtomic(pendingPath(configPath), `${JSON.stringify(pending, null, 2)}\n`, 0o600);
}

