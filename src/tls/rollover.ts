// DANE key rollover in the key store: the pre-published next key becomes the current one, the old
// current key is kept under a retired name, a fresh next key is made, and the self-signed bootstrap
// certificate is remade for the new current key.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSelfSignedCertificate } from '../keys/selfsigned.js';

export function newTlsKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

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
  const fresh = newTlsKeyPem();
  renameSync(current, join(keyDir, retired));
  renameSync(next, current);
  writeFileSync(next, fresh, { mode: 0o600, flag: 'wx' });
  const cert = await makeSelfSignedCertificate(readFileSync(current, 'utf8'), names, now);
  writeFileSync(join(keyDir, 'tls/selfsigned.crt'), cert, { mode: 0o644 });
  return { retired };
}
