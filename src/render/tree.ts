// Writes a rendered tree to a directory: DIR/<path> for every file, plus DIR/mailrig-manifest.json
// (mode, owner, group, service, what a change requires, and the content's sha256). Modes are applied
// to the written files; owners are not (the tree is usually written by an unprivileged user) and
// live in the manifest for whoever installs the tree.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { makeDirs } from '../fs/atomic.js';
import type { FileSpec, ManifestEntry } from './types.js';

export const MANIFEST_NAME = 'mailrig-manifest.json';

export function sha256(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

export function manifestOf(files: readonly FileSpec[]): ManifestEntry[] {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => ({
      // A fixed key order, whoever built the spec: the manifest is compared as text.
      path: f.path,
      mode: f.mode,
      owner: f.owner,
      group: f.group,
      service: f.service,
      onChange: f.onChange,
      secret: f.secret,
      ...(f.restartWhen ? { restartWhen: f.restartWhen } : {}),
      sha256: sha256(f.content),
    }));
}

export function formatManifest(files: readonly FileSpec[]): string {
  return `${JSON.stringify(manifestOf(files), null, 2)}\n`;
}

/** Where `path` (absolute on the host) lands under `dir`; refuses anything that could escape it. */
export function treePath(dir: string, path: string): string {
  if (!path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`render: ${path} is not a clean absolute path`);
  }
  return join(dir, path);
}

export function writeTree(dir: string, files: readonly FileSpec[]): void {
  makeDirs(dir);
  for (const f of files) {
    const target = treePath(dir, f.path);
    makeDirs(dirname(target));
    // Private files are created with their final mode, never briefly readable by others.
    writeFileSync(target, f.content, { mode: Number.parseInt(f.mode, 8) });
    chmodSync(target, Number.parseInt(f.mode, 8));
  }
  writeFileSync(join(dir, MANIFEST_NAME), formatManifest(files));
}

/** The manifest of a tree written before, or undefined when `dir` holds none (or an unreadable one). */
export function readManifest(dir: string): ManifestEntry[] | undefined {
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return Array.isArray(parsed) ? (parsed as ManifestEntry[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the files a previous manifest lists (and directories left empty), then the manifest itself. */
export function removeTree(dir: string, manifest: readonly ManifestEntry[]): void {
  const root = resolve(dir);
  for (const entry of manifest) {
    const target = treePath(root, entry.path);
    rmSync(target, { force: true });
    pruneEmptyDirs(root, dirname(target));
  }
  rmSync(join(root, MANIFEST_NAME), { force: true });
}

function pruneEmptyDirs(root: string, from: string): void {
  let d = from;
  while (d.startsWith(`${root}/`) && existsSync(d) && readdirSync(d).length === 0) {
    rmdirSync(d);
    d = dirname(d);
  }
}
