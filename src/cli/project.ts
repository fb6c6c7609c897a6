// A project is mailrig.yaml plus its key store, loaded together by every command that needs both.
import { resolve } from 'node:path';
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
  return { configPath: path, config, keys };
}
