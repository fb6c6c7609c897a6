// DANE key rollover in the key store: the pre-published next key becomes the current one, the old
// current key is kept under a retired name, a fresh next key is made, and the self-signed bootstrap
// certificate is remade for the new current key.
import { existsSync, linkSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { syncDir, writeAtomic } from '../fs/atomic.js';
import { makeSelfSignedCertificate } from '../keys/selfsigned.js';
import { createTlsKey, generateKey } from '../keys/store.js';

/** tls/retired-<UTC timestamp>.key, unique in the key store. */
export function retiredName(keyDir: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  let name = `tls/retired-${stamp}.key`;
  for (let n = 2; existsSync(join(keyDir, name)); n++) name = `tls/retired-${stamp}-${n}.key`;
  return name;
}

export interface RollResult {
  retired: string;
}

/** Performs the switch in the key store. `names`: the self-signed certificate's names. */
export async function rollKeys(keyDir: string, names: string[], now = new Date()): Promise<RollResult> {
  const current = join(keyDir, 'tls/current.key');
  const next = join(keyDir, 'tls/next.key');
  const retired = retiredName(keyDir, now);
  const fresh = generateKey('ec');
  // The old key gets its retired name beside its current one first, so that a run stopped at any
  // point leaves a current key.
  linkSync(current, join(keyDir, retired));
  renameSync(next, current);
  syncDir(join(keyDir, 'tls'));
  createTlsKey(keyDir, 'tls/next.key', fresh);
  const cert = await makeSelfSignedCertificate(readFileSync(current, 'utf8'), names, now);
  writeAtomic(join(keyDir, 'tls/selfsigned.crt'), cert, 0o644);
  return { retired };
}
