// mailrig render --out DIR: every managed file, as it will land on the host, under DIR, plus
// DIR/mailrig-manifest.json. DIR must be new, empty, or a tree rendered before (whose files are
// replaced); anything else is refused so that a typo cannot scatter files into a real directory.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { render } from '../services/index.js';
import { MANIFEST_NAME, readManifest, removeTree, writeTree } from '../render/tree.js';
import type { FileSpec } from '../render/types.js';
import { loadProject } from '../pipeline/project.js';

export interface RenderOptions {
  out: string;
  config: string;
}

export async function run(opts: RenderOptions): Promise<void> {
  const out = resolve(opts.out);
  const previous = checkOutDir(out);
  const { config, keys } = await loadProject(opts.config);
  const files = render({ config, keys, release: config.server.release });
  if (previous) removeTree(out, previous);
  writeTree(out, files);
  process.stdout.write(summary(out, files));
}

/** The previous manifest when `out` holds an earlier render; throws when `out` must not be written. */
function checkOutDir(out: string): ReturnType<typeof readManifest> {
  if (!existsSync(out)) return undefined;
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
  if (readdirSync(out).length === 0) return undefined;
  const manifest = readManifest(out);
  if (!manifest) {
    throw new UsageError(
      `--out ${out}: the directory is not empty and holds no ${MANIFEST_NAME} from an earlier render; choose a new or empty directory`,
    );
  }
  return manifest;
}

function summary(out: string, files: FileSpec[]): string {
  const counts = new Map<string, number>();
  for (const f of files) counts.set(f.service, (counts.get(f.service) ?? 0) + 1);
  const width = Math.max(...[...counts.keys()].map((s) => s.length));
  const lines = [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([service, n]) => `  ${service.padEnd(width)}  ${n} file${n === 1 ? '' : 's'}`);
  return `Rendered ${files.length} files into ${out}:\n${lines.join('\n')}\n`;
}
