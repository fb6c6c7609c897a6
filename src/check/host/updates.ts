// Pending security updates (as of the last apt update, which check never runs) and a pending reboot.
import type { CheckFacts } from '../../host/facts-check.js';
import type { CheckEnv } from '../env.js';
import { age, ok, plural, warn, fail, type Check, type CheckResult } from '../types.js';
import { onHost, withHost } from './view.js';

/** apt lists older than this make "no security updates" mean little. */
export const STALE_LISTS_SECONDS = 7 * 86400;

export function judgeUpdates(facts: CheckFacts, run: (cmd: string) => string): CheckResult[] {
  const head = { id: 'host.updates', section: 'host' as const, subject: 'security updates' };
  const { apt } = facts;
  const asOf = apt.listsUpdated === undefined ? 'apt lists never downloaded' : `as of the last apt update, ${age(facts.now - apt.listsUpdated)} ago`;
  const install = `install them: ${run('apt-get update && apt-get upgrade')} (or enable unattended-upgrades)`;
  const results: CheckResult[] = [];
  if (apt.security.length > 0) {
    const names = apt.security.map((p) => p.split(' ')[0]).join(', ');
    results.push(fail(head, `${plural(apt.security.length, 'security update')} pending (${asOf}): ${names}`, install));
  } else if (apt.listsUpdated === undefined || facts.now - apt.listsUpdated > STALE_LISTS_SECONDS) {
    results.push(warn(head, `none known, but ${asOf}`, `refresh the lists: ${run('apt-get update')} (unattended-upgrades does it daily)`));
  } else {
    results.push(ok(head, `none pending (${asOf}${apt.other ? `; ${plural(apt.other, 'other update')}` : ''})`));
  }
  const rb = { id: 'host.reboot', section: 'host' as const, subject: 'reboot' };
  if (facts.reboot.required) {
    const why = facts.reboot.packages.length ? ` for ${facts.reboot.packages.join(', ')}` : '';
    results.push(warn(rb, `a reboot is pending${why}`, 'reboot the host when convenient (mail waits in senders\' queues meanwhile)'));
  } else {
    results.push(ok(rb, 'none pending'));
  }
  return results;
}

export const updates: Check<CheckEnv> = {
  section: 'host',
  name: 'updates',
  run: (env) => withHost(env, (view) => judgeUpdates(view.check, (cmd) => onHost(env, cmd))),
};
