// The upgrade's preflight: what must hold before anything changes, decided from values (the target
// asked for, mailrig.yaml, the host's facts, the plan for its current release). Pure; the pipeline
// gathers the values and stops on the first list that is not empty.
import type { Release } from '../config/model.js';
import { formatAge } from '../backup/status.js';
import type { UpgradeFacts, SourceEntry } from './facts.js';

/** The one upgrade mailrig makes: Debian 12 (bookworm) to Debian 13 (trixie). */
export const UPGRADES: Record<string, { from: Release; fromSuite: string; toSuite: string }> = {
  'debian-13': { from: 'debian-12', fromSuite: 'bookworm', toSuite: 'trixie' },
};

/** Free space the upgrade needs on / and /var: the downloaded packages and the unpacked new ones. */
export const MIN_FREE_KB = 2 * 1024 * 1024;

export interface PreflightInput {
  to: string;
  configPath: string;
  /** server.release in mailrig.yaml. */
  configRelease: Release;
  /** The host's release (undefined: not a Debian mailrig supports). */
  hostRelease: Release | undefined;
  hostName: string;
  upgrade: UpgradeFacts;
  /** Lines describing what the plan for the current release would change (empty: no drift). */
  drift: string[];
}

export type Decision =
  /** Bad input or a host in the wrong state: exit 2, nothing changed. */
  | { kind: 'refuse'; problems: string[] }
  /** A journal of an interrupted upgrade to this release: continue after its last step. */
  | { kind: 'continue' }
  /** The host can be upgraded. */
  | { kind: 'start' };

/** The suites an upgrade switches (the release's own, -updates, -security, -backports); others are foreign. */
export function switchable(entry: SourceEntry, fromSuite: string): boolean {
  return entry.suite === fromSuite || entry.suite.startsWith(`${fromSuite}-`);
}

/** Why mailrig cannot upgrade to `to` at all, whatever the host (undefined: it can). */
export function targetProblem(to: string): string | undefined {
  if (UPGRADES[to]) return undefined;
  return `--to ${to}: mailrig upgrades to ${Object.keys(UPGRADES).join(', ')} only (from ${Object.values(UPGRADES).map((u) => u.from).join(', ')})`;
}

export function decide(input: PreflightInput): Decision {
  const target = UPGRADES[input.to];
  if (!target) return { kind: 'refuse', problems: [targetProblem(input.to) ?? input.to] };
  const { journal } = input.upgrade;
  if (journal) {
    if (journal.to !== input.to) return { kind: 'refuse', problems: [`${input.hostName} has an unfinished upgrade to ${journal.to}: run mailrig upgrade --to ${journal.to}`] };
    return { kind: 'continue' };
  }
  const problems: string[] = [];
  if (input.configRelease === input.to) problems.push(`${input.configPath}: server.release is already ${input.to}; there is nothing to upgrade`);
  else if (input.configRelease !== target.from) problems.push(`${input.configPath}: server.release is ${input.configRelease}; mailrig upgrades ${target.from} to ${input.to}`);
  if (input.hostRelease === input.to && input.configRelease === input.to) return { kind: 'refuse', problems };
  if (input.hostRelease === input.to) problems.push(`${input.hostName} already runs ${input.to}: set server.release: ${input.to} in ${input.configPath} and run mailrig apply`);
  else if (input.hostRelease !== target.from) problems.push(`${input.hostName} does not run ${target.from} (Debian ${target.fromSuite}); mailrig upgrades ${target.from} only`);
  if (problems.length) return { kind: 'refuse', problems };

  const u = input.upgrade;
  if (input.drift.length) {
    problems.push(`${input.hostName} differs from ${input.configPath} (${input.drift.join('; ')}): run mailrig apply first, so that the upgrade starts from a host that matches it`);
  }
  if (u.freeKb < MIN_FREE_KB) problems.push(`${input.hostName} has ${Math.floor(u.freeKb / 1024)} MB free on / or /var; the upgrade needs ${MIN_FREE_KB / 1024 / 1024} GB`);
  if (u.held.length) problems.push(`${input.hostName} holds packages (${u.held.join(', ')}): release them (apt-mark unhold) or upgrade by hand`);
  if (u.broken.length) problems.push(`dpkg reports packages not fully installed on ${input.hostName} (${u.broken.join(', ')}): run dpkg --configure -a first`);
  const foreign = u.sources.filter((e) => !switchable(e, target.fromSuite));
  for (const e of foreign) problems.push(`${e.file}: ${e.uri} ${e.suite} is not a ${target.fromSuite} suite the upgrade can switch: remove it or switch it by hand first`);
  if (!u.sources.some((e) => e.suite === target.fromSuite)) problems.push(`${input.hostName}: no apt source for ${target.fromSuite} was found to switch to ${target.toSuite}`);
  return problems.length ? { kind: 'refuse', problems } : { kind: 'start' };
}

/** A backup younger than this is recent enough to upgrade after; an older one, or none, is taken first. */
export const RECENT_BACKUP_MS = 24 * 3600 * 1000;

/** What the host's backup answered (backup/status.ts), as much as the decision needs. */
export interface BackupFacts {
  /** False: mailrig.yaml has no backup section. */
  configured: boolean;
  /** Age of the newest snapshot, seconds (undefined: none, or the repository could not be read). */
  ageSeconds?: number;
  /** The status line for people, e.g. "last backup … (3 h ago), snapshot 1a2b3c4d". */
  message: string;
}

export type BackupDecision =
  /** No backup section: the upgrade takes none and says so. */
  | { kind: 'none'; message: string }
  /** The newest snapshot is recent: nothing to take. */
  | { kind: 'recent'; message: string }
  /** The upgrade takes a backup before it pauses intake. */
  | { kind: 'take'; message: string };

/** Whether the upgrade takes a backup first. Pure. */
export function decideBackup(b: BackupFacts): BackupDecision {
  if (!b.configured) return { kind: 'none', message: 'no backup: section in mailrig.yaml, so the upgrade takes no backup: take one by hand first, or configure one (mailrig backup init --repo …)' };
  if (b.ageSeconds !== undefined && b.ageSeconds * 1000 < RECENT_BACKUP_MS) return { kind: 'recent', message: `backup recent enough: ${b.message}` };
  const why = b.ageSeconds === undefined ? b.message : `the newest backup is ${formatAge(b.ageSeconds)} old, more than ${RECENT_BACKUP_MS / 3600_000} h`;
  return { kind: 'take', message: `${why}: the upgrade takes one first, before it pauses intake (as mailrig backup now)` };
}
