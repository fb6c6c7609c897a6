// Drift: managed files that are no longer as mailrig rendered them. The plan apply would make is
// exactly that list, so this reads the plan rather than comparing anything itself.
import type { Plan } from '../../plan/plan.js';
import type { CheckEnv } from '../env.js';
import { ok, plural, warn, type Check, type CheckResult } from '../types.js';
import { withHost } from './view.js';

export function judgeDrift(plan: Plan, managed: number): CheckResult {
  const head = { id: 'host.drift', section: 'host' as const, subject: 'managed files' };
  if (plan.changes.length === 0) return ok(head, `all ${managed} as mailrig rendered them`);
  const what = { create: 'missing', update: 'changed', attributes: 'mode/owner changed' } as const;
  const list = plan.changes.map((c) => `${c.file.path} (${what[c.kind]})`).join(', ');
  return warn(head, `${plural(plan.changes.length, 'file')} ${plan.changes.length === 1 ? 'differs' : 'differ'}: ${list}`, 'mailrig plan shows the differences; mailrig apply restores them (move wanted changes into mailrig.yaml first)');
}

export const drift: Check<CheckEnv> = {
  section: 'host',
  name: 'drift',
  run: (env) =>
    withHost(env, (view) => [judgeDrift(view.plan, view.managedFiles)]),
};
