// A plan as the operator reads it: packages, each file with its unified diff (secrets masked), and the
// services to touch with the files that cause it.
import { createTwoFilesPatch } from 'diff';
import type { Plan, Task } from './plan.js';
import { isEmpty } from './plan.js';

/** One line for an operation beyond files and services. */
export function describeTask(t: Task): string {
  switch (t.kind) {
    case 'schedule':
      if (t.init === 'sysv') return `start cron for ${t.unit} (${t.because})`;
      return `${t.action} ${t.unit}.timer (${t.because})`;
    case 'backup-repository':
      return `open or create the backup repository ${t.repository} (restic init when missing)`;
    case 'certificate':
      return `request a certificate from ${t.directoryUrl} (${t.reason})`;
  }
}

export interface FormatOptions {
  /** Current content of files being updated (never of secret files). */
  before: Map<string, string>;
  /** Omit the diffs of files being created (a first setup creates dozens). */
  brief?: boolean;
}

function unifiedDiff(path: string, before: string, after: string): string {
  const patch = createTwoFilesPatch(path, path, before, after, '', '', { context: 3 });
  // Drop the "Index:"/"===" preamble; keep ---/+++ and the hunks.
  return patch
    .split('\n')
    .filter((l) => !l.startsWith('Index:') && !/^=+$/.test(l))
    .map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.trimEnd() : l))
    .join('\n')
    .trimEnd();
}

/** The line saying what `--purge` would delete (data of switched-off services the plan keeps), if any. */
export function keptLine(plan: Plan): string | undefined {
  if (!plan.kept.length) return undefined;
  return `Kept: ${plan.kept.map((k) => `${k.path} (${k.what})`).join(', ')}; the service is off, apply --purge would delete it.`;
}

export function formatPlan(plan: Plan, opts: FormatOptions): string {
  const kept = keptLine(plan);
  if (isEmpty(plan)) return ['No changes: the host matches mailrig.yaml.', ...(kept ? [kept] : [])].join('\n');
  const out: string[] = [];
  if (plan.installs.length) out.push(`Packages to install (${plan.installs.length}): ${plan.installs.join(' ')}`, '');
  if (plan.changes.length) {
    out.push(`Files (${plan.changes.length}):`);
    for (const c of plan.changes) {
      const attrs = `${c.file.mode} ${c.file.owner}:${c.file.group}`;
      if (c.kind === 'attributes') {
        const b = c.before;
        out.push(`  ~ ${c.file.path}: ${b ? `${b.mode} ${b.owner}:${b.group}` : '?'} → ${attrs}`);
        continue;
      }
      out.push(`  ${c.kind === 'create' ? '+' : '~'} ${c.file.path} (${attrs})`);
      if (c.file.secret) {
        out.push(`    (secret: content not shown${c.kind === 'update' ? '; it differs from the host' : ''})`);
      } else if (c.kind === 'update' || !opts.brief) {
        const diff = unifiedDiff(c.file.path, opts.before.get(c.file.path) ?? '', c.file.content);
        out.push(...diff.split('\n').map((l) => `    ${l}`));
      }
    }
    out.push('');
  }
  if (plan.removals.length) {
    out.push(`Files to remove (${plan.removals.length}; no longer rendered, the old copy is kept in the run's backup):`);
    for (const r of plan.removals) out.push(`  - ${r.path} (${r.service})`);
    out.push('');
  }
  if (plan.mapBuilds.length) {
    out.push(`Maps to rebuild: ${plan.mapBuilds.map((f) => f.path).join(' ')}`, '');
  }
  const mail = plan.purges.filter((p) => p.kind === 'mail');
  const data = plan.purges.filter((p) => p.kind === 'service-data');
  if (mail.length) {
    out.push(`Stored mail to delete (user rm --purge): ${mail.map((p) => p.path).join(' ')}`, '');
  }
  if (data.length) {
    out.push(`Data to delete (apply --purge; the service is off):`);
    for (const p of data) out.push(`  - ${p.path} (${p.what})`);
    out.push('');
  }
  if (kept) out.push(kept, '');
  if (plan.actions.length) {
    out.push('Services:');
    for (const a of plan.actions) {
      out.push(`  ${a.action.padEnd(7)} ${a.daemon}${a.because.length ? `  ← ${a.because.join(', ')}` : ''}`);
    }
    out.push('');
  }
  if (plan.tasks.length) {
    out.push('Then:');
    for (const t of plan.tasks) out.push(`  ${describeTask(t)}`);
  }
  return out.join('\n').trimEnd();
}

/** One line for a plan: what apply would do, in numbers. */
export function summarize(plan: Plan): string {
  if (isEmpty(plan)) return 'no changes';
  const mailPurges = plan.purges.filter((p) => p.kind === 'mail').length;
  const dataPurges = plan.purges.length - mailPurges;
  const parts = [
    plan.installs.length && `${plan.installs.length} package${plan.installs.length === 1 ? '' : 's'} to install`,
    plan.changes.length && `${plan.changes.length} file${plan.changes.length === 1 ? '' : 's'} to write`,
    plan.removals.length && `${plan.removals.length} file${plan.removals.length === 1 ? '' : 's'} to remove`,
    plan.actions.length && plan.actions.map((a) => `${a.action} ${a.daemon}`).join(', '),
    mailPurges && `${mailPurges} mailbox${mailPurges === 1 ? '' : 'es'} to delete`,
    dataPurges && `${dataPurges} data director${dataPurges === 1 ? 'y' : 'ies'} to delete`,
    plan.tasks.length && plan.tasks.map((t) => (t.kind === 'schedule' ? `${t.action} ${t.unit}` : t.kind)).join(', '),
  ].filter(Boolean);
  return parts.join('; ');
}
