// The mail queue: how many messages wait, and how long the oldest deferred one has.
import type { CheckFacts } from '../../host/facts-check.js';
import type { CheckEnv } from '../env.js';
import { age, fail, ok, plural, unknown, warn, type Check, type CheckResult } from '../types.js';
import { onHost, withHost } from './view.js';

export const QUEUE = { warnSize: 50, failSize: 500, warnOldestSeconds: 6 * 3600, failOldestSeconds: 3 * 86400 };

export function judgeQueue(facts: CheckFacts, showQueue: string): CheckResult {
  const head = { id: 'host.queue', section: 'host' as const, subject: 'mail queue' };
  const q = facts.queue;
  if (q.unavailable) return unknown(head, 'postqueue did not answer', 'start postfix (mailrig apply starts daemons that are down)');
  if (q.total === 0) return ok(head, 'empty');
  const oldest = q.oldestDeferred === undefined ? undefined : facts.now - q.oldestDeferred;
  const text = `${plural(q.total, 'message')}, ${q.deferred} deferred${oldest === undefined ? '' : `, the oldest deferred for ${age(oldest)}`}`;
  const fix = `see why with ${showQueue} and the mail log; fix the cause, then postqueue -f retries`;
  if (q.total >= QUEUE.failSize || (oldest ?? 0) >= QUEUE.failOldestSeconds) return fail(head, text, fix);
  if (q.total >= QUEUE.warnSize || (oldest ?? 0) >= QUEUE.warnOldestSeconds) return warn(head, text, fix);
  return ok(head, text);
}

export const queue: Check<CheckEnv> = {
  section: 'host',
  name: 'queue',
  run: (env) => withHost(env, (view) => [judgeQueue(view.check, onHost(env, 'postqueue -p'))]),
};
