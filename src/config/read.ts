// Reading mailrig.yaml for commands that only read it, without loading the YAML parser or the
// schema when the file has been validated before.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { writeAtomic } from '../fs/atomic.js';
import { normalize, type Config } from './model.js';
import type { RawConfig } from './schema.js';

export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file; create it with mailrig init`);
    throw new UsageError(`${path}: cannot read it (${code ?? (e as Error).message})`);
  }
}

// ---- the validated config, kept for commands that only read it -----------------------------------
//
// Parsing YAML is most of what a read-only command costs on a file of thousands of domains (the
// yaml package reads about a megabyte a second). What validation produced for a text is kept in
// `cacheFile`, named by a hash of the text and of the code that validates it, so any change to
// either validates again; everything after validation (normalize) runs every time.

/**
 * Hash of the compiled modules that decide what a valid config is — this folder, which imports
 * nothing above it — so a new mailrig validates again.
 */
let codeHash: string | undefined;
function validatorHash(): string {
  if (codeHash === undefined) {
    const h = createHash('sha256');
    const dir = dirname(fileURLToPath(import.meta.url));
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.js')).sort()) {
      h.update(name).update('\0').update(readFileSync(join(dir, name)));
    }
    codeHash = h.digest('hex');
  }
  return codeHash;
}

/**
 * The config at `path` for a command that does not edit it: as loadConfig, but the schema's output
 * for this exact text is read from `cacheFile` when it is there (and written there when the
 * directory exists). Errors are reported exactly as by loadConfig, since invalid text is never kept.
 */
export async function loadConfigCached(path: string, cacheFile: string): Promise<Config> {
  const text = readConfigFile(path);
  const key = createHash('sha256').update(validatorHash()).update('\0').update(text).digest('hex');
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key?: string; raw?: RawConfig };
    if (cached.key === key && cached.raw) return normalize(cached.raw);
  } catch {
    // none yet, or unreadable: validate
  }
  // Loaded only here: the YAML parser and the schema cost every other run start-up time.
  const { parseConfig } = await import('./load.js');
  const { config, raw } = parseConfig(text, path);
  if (existsSync(dirname(cacheFile))) {
    try {
      writeAtomic(cacheFile, JSON.stringify({ key, raw }), 0o600);
    } catch {
      // only slower next time
    }
  }
  return config;
}
