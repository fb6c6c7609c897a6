// Key material for a configuration with a standby, as mailrig's key store would hold it: the fixture
// DKIM and TLS keys, a replication key pair made in a fresh directory, the standby's host key as
// recorded when mailrig reached it (unless `hostKey` is '': not reached yet), and a certificate
// for each further host's name.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standbyOf, type Config } from '../../src/config/model.js';
import { loadReplicationKeys, recordHostKey } from '../../src/keys/replication.js';
import { makeSelfSignedCertificate } from '../../src/keys/selfsigned.js';
import type { KeyMaterial } from '../../src/keys/store.js';
import { fixtureKeys } from './fixtures.js';

/** An Ed25519 host key line, standing in for the standby's. */
export const STANDBY_HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFZibfDQvrpvbvmEia13emEeRmYeHyydZKq1ozZ+Uh7M';

export async function standbyKeys(config: Config, hostKey: string = STANDBY_HOST_KEY): Promise<KeyMaterial> {
  const keys = fixtureKeys(config.domains.map((d) => d.name));
  const name = standbyOf(config)?.name ?? 'standby';
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-replication-'));
  if (hostKey) recordHostKey(dir, name, hostKey);
  const pems: Record<string, string> = {};
  for (const s of config.servers.slice(1)) pems[s.hostname] = await makeSelfSignedCertificate(keys.tls.current.privatePem, [s.hostname]);
  return { ...keys, hostCertPems: pems, replication: loadReplicationKeys(dir, name) };
}
