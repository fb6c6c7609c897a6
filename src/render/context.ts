// Everything a service renderer may read. Renderers are pure: context in, FileSpec[] out.
import type { Config, Release } from '../config/model.js';
import type { KeyMaterial } from '../keys/store.js';

export interface RenderContext {
  config: Config;
  keys: KeyMaterial;
  release: Release;
}
