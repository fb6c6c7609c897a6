// A project is mailrig.yaml plus its key store, loaded together by every command that needs both.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { loadConfigCached } from '../config/read.js';
import { standbyOf, type Config } from '../config/model.js';
import { ensureRoundcubeDesKey } from '../keys/roundcube.js';
import { keyDirFor, loadKeys, type KeyMaterial } from '../keys/store.js';

export const DEFAULT_CONFIG = 'mailrig.yaml';

export interface Project {
  configPath: string;
  config: Config;
  keys: KeyMaterial;
}

export async function loadProject(configPath: string = DEFAULT_CONFIG): Promise<Project> {
  const path = resolve(configPath);
  const keyDir = keyDirFor(path);
  const config = await loadConfigCached(path, join(keyDir, 'config-cache.json'));
  // The webmail's secret is made when mailrig.yaml first asks for the webmail, not before.
  if (config.webmail === 'roundcube') ensureRoundcubeDesKey(keyDir);
  const keys = loadKeys(keyDir, config.domains.map((d) => d.name));
  const others = config.servers.filter((s) => s.role !== 'primary');
  if (others.length) {
    const { ensureHostCertificates } = await import('../keys/host-cert.js');
    keys.hostCertPems = await ensureHostCertificates(keyDir, others, keys.tls.current.privatePem, keys.tls.current.spkiSha256);
  }
  const standby = standbyOf(config);
  if (standby) keys.replication = (await import('../keys/replication.js')).loadReplicationKeys(keyDir, standby.name);
  const caFile = config.relay?.caFile;
  if (caFile !== undefined) keys.relayCaPem = readRelayCa(resolve(dirname(path), caFile));
  return { configPath: path, config, keys };
}

function readRelayCa(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`relay.ca_file: cannot read ${path} (${(e as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`relay.ca_file: ${path} holds no PEM certificate`);
  return text;
}
