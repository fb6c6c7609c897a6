// The host's record of what mailrig manages: one line per file it rendered last, with the service the
// file belongs to and what a change to it requires. A file listed here that mailrig no longer renders
// is removed by the next apply (its old copy kept with the run's backup), and its service told.
import type { FileSpec, OnChange } from '../render/types.js';

export const MANIFEST = '/var/lib/mailrig/state/managed.tsv';

/** What the manifest remembers of a file. */
export interface ManagedFile {
  path: string;
  service: string;
  onChange: OnChange;
}

const ON_CHANGE: readonly OnChange[] = ['reload', 'restart', 'postmap', 'postalias', 'none'];

/** The manifest as a file mailrig manages itself: written by the apply that writes the files it lists. */
export function manifestFile(files: readonly FileSpec[]): FileSpec {
  const lines = files.filter((f) => f.path !== MANIFEST).map((f) => `${f.path}\t${f.service}\t${f.onChange}\n`);
  return {
    path: MANIFEST,
    content: `# Files mailrig manages on this host: path, service, on change. Written by mailrig apply.\n${lines.join('')}`,
    mode: '0600',
    owner: 'root',
    group: 'root',
    service: 'state',
    onChange: 'none',
    secret: false,
  };
}

/** Manifest lines → the files they name; comments and malformed lines are skipped. */
export function parseManifest(lines: readonly string[]): ManagedFile[] {
  return lines.flatMap((line) => {
    const [path, service, onChange] = line.split('\t');
    if (!path?.startsWith('/') || !service || !ON_CHANGE.includes(onChange as OnChange)) return [];
    return [{ path, service, onChange: onChange as OnChange }];
  });
}
