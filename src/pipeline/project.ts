// A project is mailrig.yaml plus its key store, loaded together by every command that needs both.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rspamdPasswordHash } from '../render/rspamd-password.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { keyDirFor, loadKeys, type KeyMaterial } from '../keys/store.js';

export const DEFAULT_CONFIG = 'mailrig.yaml';

export interface Project {
  configPath: string;
  config: Config;
  keys: KeyMaterial;
}

export async function loadProject(configPath: string = DEFAULT_CONFIG): Promise<Project> {
  const path = resolve(configPath);
  const { config } = loadConfig(path);
  const keys = loadKeys(keyDirFor(path), config.domains.map((d) => d.name));
  return { configPath: path, config, keys: { ...keys, rspamdControllerHash: controllerHash(keys) } };
}

/**
 * The rspamd controller's password hash, kept beside the password: Catena takes about half a second,
 * which would otherwise be most of every plan. The cache names the password it was made from.
 */
function controllerHash(keys: KeyMaterial): string {
  const file = join(keys.dir, 'secrets/rspamd-controller.hash');
  const tag = createHash('sha256').update(keys.rspamdControllerPassword).digest('hex');
  const cached = existsSync(file) ? readFileSync(file, 'utf8').trim().split(' ') : [];
  if (cached[0] === tag && cached[1]) return cached[1];
  const hash = rspamdPasswordHash(keys.rspamdControllerPassword);
  writeFileSync(file, `${tag} ${hash}\n`, { mode: 0o600 });
  return hash;
}
