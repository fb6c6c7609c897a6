// A staged DKIM key rotation, one domain at a time, with its state kept in .mailrig/keys.json:
//
//   idle ──start──▶ published ──switch──▶ switched ──finish──▶ idle
//
// start:  new keys under new selectors, state 'next': `mailrig dns` publishes them, nothing signs.
// switch: (once DNS shows them) next → active, active → retiring. Retiring keys stay published so
//         that mail signed with them just before the switch still verifies at receivers.
// finish: after the grace period, retiring → retired: no longer published; the key files stay.
//
// Transitions are pure functions of the selector list and the time; reading and writing the store
// are separate, so the state machine is tested without files.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyStoreError, UsageError } from '../errors.js';
import { writeAtomic } from '../config/edit.js';
import { toUnicodeDomain } from '../config/syntax.js';
import { assertSafe, newSelectorNames, type DkimAlgorithm, type DkimSelector } from './store.js';

export const DEFAULT_GRACE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A selector as keys.json stores it; the timestamps are ISO strings, absent on keys made by init. */
export interface StoredSelector extends DkimSelector {
  /** When the key entered its current state. */
  since?: string;
  /** retiring: the earliest time finish may retire it. */
  retireAfter?: string;
}

export interface KeysFile {
  dkim: Record<string, StoredSelector[]>;
  [other: string]: unknown;
}

export type Phase = 'idle' | 'published' | 'switched';

export function phaseOf(selectors: StoredSelector[]): Phase {
  if (selectors.some((s) => s.state === 'next')) return 'published';
  if (selectors.some((s) => s.state === 'retiring')) return 'switched';
  return 'idle';
}

const name = (domain: string) => toUnicodeDomain(domain);

function requireActive(domain: string, selectors: StoredSelector[]): void {
  if (!selectors.some((s) => s.state === 'active')) {
    throw new UsageError(`${name(domain)} has no DKIM keys; add the domain with mailrig domain add first`);
  }
}

/** start: two new selectors (RSA, Ed25519) in state next. Returns the new list and the new selectors. */
export function startRotation(
  domain: string,
  selectors: StoredSelector[],
  now: Date,
): { selectors: StoredSelector[]; added: StoredSelector[] } {
  requireActive(domain, selectors);
  const phase = phaseOf(selectors);
  if (phase === 'published') throw new UsageError(`${name(domain)}: a rotation is already started; next is mailrig dkim rotate switch ${name(domain)}`);
  if (phase === 'switched') throw new UsageError(`${name(domain)}: the last rotation is not finished; run mailrig dkim rotate finish ${name(domain)} first`);
  const names = newSelectorNames(selectors.map((s) => s.selector), now);
  const added = (['rsa', 'ed25519'] as const).map(
    (algorithm): StoredSelector => ({ selector: names[algorithm], algorithm, state: 'next', since: now.toISOString() }),
  );
  return { selectors: [...selectors, ...added], added };
}

/** switch: next keys sign from now on; the active ones retire after `graceDays`. */
export function switchRotation(domain: string, selectors: StoredSelector[], now: Date, graceDays = DEFAULT_GRACE_DAYS): StoredSelector[] {
  if (phaseOf(selectors) !== 'published') {
    throw new UsageError(`${name(domain)}: no new keys waiting to be switched to; start with mailrig dkim rotate start ${name(domain)}`);
  }
  const since = now.toISOString();
  const retireAfter = new Date(now.getTime() + graceDays * DAY_MS).toISOString();
  return selectors.map((s): StoredSelector => {
    if (s.state === 'next') return { ...s, state: 'active', since };
    if (s.state === 'active') return { ...s, state: 'retiring', since, retireAfter };
    return s;
  });
}

/** finish: retiring keys are retired; refused before their grace period is over unless `force`. */
export function finishRotation(domain: string, selectors: StoredSelector[], now: Date, force = false): StoredSelector[] {
  if (phaseOf(selectors) !== 'switched') {
    throw new UsageError(`${name(domain)}: no old keys to retire (${describePhase(phaseOf(selectors))})`);
  }
  const due = selectors
    .filter((s) => s.state === 'retiring' && s.retireAfter !== undefined)
    .map((s) => Date.parse(s.retireAfter ?? ''))
    .reduce((a, b) => Math.max(a, b), 0);
  if (!force && now.getTime() < due) {
    const days = Math.ceil((due - now.getTime()) / DAY_MS);
    throw new UsageError(
      `${name(domain)}: the old keys stay published until ${new Date(due).toISOString()} (${days} more day${days === 1 ? '' : 's'}), so mail signed with them before the switch still verifies; --force retires them now`,
    );
  }
  const since = now.toISOString();
  return selectors.map((s): StoredSelector => {
    if (s.state !== 'retiring') return s;
    const { retireAfter: _done, ...rest } = s;
    return { ...rest, state: 'retired', since };
  });
}

export function describePhase(phase: Phase): string {
  return {
    idle: 'no rotation in progress',
    published: 'new keys published, not signing yet',
    switched: 'signing with the new keys; the old ones are still published',
  }[phase];
}

// ---- the store ---------------------------------------------------------------------------------

export function readKeysFile(dir: string): KeysFile {
  assertSafe(dir);
  const path = join(dir, 'keys.json');
  if (!existsSync(path)) return { dkim: {} };
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as KeysFile;
    return { ...parsed, dkim: parsed.dkim ?? {} };
  } catch (e) {
    throw new KeyStoreError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export function writeKeysFile(dir: string, index: KeysFile): void {
  writeAtomic(join(dir, 'keys.json'), `${JSON.stringify(index, null, 2)}\n`, 0o600);
}

/** Generates the private keys of `added` selectors under dkim/<domain>/, never overwriting one. */
export function generateSelectorKeys(dir: string, domain: string, added: Array<{ selector: string; algorithm: DkimAlgorithm }>): string[] {
  return added.map(({ selector, algorithm }) => {
    const file = join('dkim', domain, `${selector}.pem`);
    const pair = algorithm === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    mkdirSync(dirname(join(dir, file)), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, file), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600, flag: 'wx' });
    return file;
  });
}
