// What the unit tests of the account commands (user, vacation, app-password) share: a scratch copy of
// a project file to edit, removed after the test file, and an io that records what a command prints.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after } from 'node:test';
import type { AccountsIo } from '../../src/cli/user.js';
import { FIXTURES } from './fixtures.js';

/** The project file every scratch project starts from. */
export const BEFORE = readFileSync(join(FIXTURES, 'edit/user-add.before.yaml'), 'utf8');

/**
 * Call at the top of a test file: returns a function that makes a fresh mailrig.yaml (the user-add
 * fixture) in a temp dir named after `tag`; every one is removed when the file's tests end.
 */
export function scratchProjects(tag: string): () => { path: string; read: () => string } {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `mailrig-${tag}-`));
    dirs.push(dir);
    const path = join(dir, 'mailrig.yaml');
    writeFileSync(path, BEFORE);
    return { path, read: () => readFileSync(path, 'utf8') };
  };
}

/** A non-interactive io whose clock stands at 2026-07-01 noon UTC; `text()` is all it printed. */
export function recordingIo(): AccountsIo & { text: () => string } {
  let text = '';
  return {
    out: (t) => {
      text += t;
    },
    input: new PassThrough(),
    output: new PassThrough(),
    interactive: false,
    confirm: async () => false,
    now: () => new Date('2026-07-01T12:00:00Z'),
    text: () => text,
  };
}
