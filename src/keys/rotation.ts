// A staged DKIM key rotation, one domain at a time, with its state kept in .mailrig/keys.json:
//
//   idle ──start──▶ published ──switch──▶ switched ──finish──▶ idle
//
// start:  new keys under new selectors, state 'next': `mailrig dns` publishes them, nothing signs.
// switch: (once DNS shows them) next → active, active → retiring. Retiring keys stay published so
//         that mail signed with them just before the switch still verifies at receivers.
// finish: after the grace period, retiring → retired: no longer published; the key files stay.
//
// Transitions are pure functions of the selector list and the time; the key store (store.ts) reads
// and writes keys.json, so the state machine is tested without files.
import { UsageError } from '../errors.js';
import { toUnicodeDomain } from '../config/syntax.js';
import { newSelectorNames, type StoredSelector } from './store.js';

export type { StoredSelector };

export const DEFAULT_GRACE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

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
