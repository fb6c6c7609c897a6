// What rendering produces. The renderers are pure (context in, FileSpec[] out); the service
// descriptors (src/services/) own them and services/index.ts renders the whole tree.
export type { RenderContext } from './context.js';
export type { FileSpec, ManifestEntry, Service } from './types.js';
