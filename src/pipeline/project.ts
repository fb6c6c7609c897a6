// A project is mailrig.yaml plus its key store, loaded together by every command that needs both.
import { join, resolve } from 'node:path';
import { loadConfigCached } from '../config/read.js';
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
  const keyDir = keyDirFor(path);
  const config = await loadConfigCached(path, join(keyDir, 'config-cache.json'));
  const keys = loadKeys(keyDir, config.domains.map((d) => d.name));
  return { configPath: path, config, keys };
}
