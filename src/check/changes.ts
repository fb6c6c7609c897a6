// `mailrig check --changes`: what changed since the previous run, whose report is kept in
// .mailrig/check-last.json. Prints nothing when nothing changed, so cron mails only news.
import { existsSync, readFileSync } from 'node:fs';
import { unicodeText } from '../config/syntax.js';
import { writeAtomic } from '../fs/atomic.js';
import { join } from 'node:path';
import type { Report } from './format.js';
import type { CheckResult, Status } from './types.js';

export const LAST_FILE = 'check-last.json';

export interface Change {
  id: string;
  subject: string;
  /** undefined: the check did not report last time (new) or this time (gone). */
  before: Status | undefined;
  after: Status | undefined;
  message: string;
  fix?: string;
}

export function loadLast(keyDir: string): Report | undefined {
  const path = join(keyDir, LAST_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
    return report.version === 1 && Array.isArray(report.results) ? report : undefined;
  } catch {
    return undefined;
  }
}

export function saveLast(keyDir: string, report: Report): void {
  const path = join(keyDir, LAST_FILE);
  writeAtomic(path, JSON.stringify(report, null, 2), 0o600);
}

/**
 * Status changes by id. A result that disappeared counts as resolved only if it was not ok (a
 * problem line replaced by its zone's ok line); ok lines that come and go are not news.
 */
export function diffReports(before: CheckResult[], after: CheckResult[]): Change[] {
  const old = new Map(before.map((r) => [r.id, r]));
  const now = new Map(after.map((r) => [r.id, r]));
  const changes: Change[] = [];
  for (const r of after) {
    const prev = old.get(r.id);
    if (prev?.status === r.status) continue;
    if (prev === undefined && r.status === 'ok') continue;
    changes.push({ id: r.id, subject: r.subject, before: prev?.status, after: r.status, message: r.message, ...(r.fix ? { fix: r.fix } : {}) });
  }
  for (const r of before) {
    if (now.has(r.id) || r.status === 'ok') continue;
    changes.push({ id: r.id, subject: r.subject, before: r.status, after: undefined, message: `no longer reported (was: ${r.message})` });
  }
  return changes;
}

export function formatChanges(changes: Change[], previous: Report | undefined, target: string): string {
  if (!changes.length) return '';
  const since = previous ? `since ${previous.checkedAt.replace('T', ' ').slice(0, 19)} UTC` : 'first run';
  const lines = [`mailrig check: ${unicodeText(target)}, ${changes.length} change${changes.length === 1 ? '' : 's'} ${since}`];
  for (const c of changes) {
    lines.push(`  ${(c.before ?? 'new').padEnd(4)} → ${(c.after ?? 'gone').padEnd(4)}  ${unicodeText(c.subject)}: ${unicodeText(c.message)}`);
    if (c.fix && c.after !== 'ok') lines.push(`                 fix: ${unicodeText(c.fix, { beside: true })}`);
  }
  return `${lines.join('\n')}\n`;
}
