// Free disk space (where mail and queue live) and available memory.
import type { CheckFacts } from '../../host/facts-check.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, warn, type Check, type CheckResult } from '../types.js';
import { withHost } from './view.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Thresholds: a fraction free and an absolute floor; either one crossed triggers. */
export const DISK = { warnFree: 0.15, failFree: 0.05, warnBytes: 2 * GiB, failBytes: 512 * MiB };
export const MEMORY = { warnFree: 0.1, failFree: 0.03, failBytes: 64 * MiB };

/** The mount points mail depends on: the root, mail storage and the queue. */
export const MOUNTS = ['/', '/var/vmail', '/var/spool/postfix', '/var/lib'];

function size(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

export function judgeDisks(facts: CheckFacts): CheckResult[] {
  return facts.disks.map((d) => {
    const head = { id: `host.disk.${d.mount}`, section: 'host' as const, subject: `disk ${d.mount}` };
    const free = d.sizeBytes > 0 ? d.availableBytes / d.sizeBytes : 0;
    const text = `${size(d.availableBytes)} free of ${size(d.sizeBytes)} (${Math.round(free * 100)}%)`;
    const fix = `free space on ${d.mount} (old logs, journal: journalctl --vacuum-size=200M) or grow the disk`;
    if (free < DISK.failFree || d.availableBytes < DISK.failBytes) return fail(head, text, fix);
    if (free < DISK.warnFree || d.availableBytes < DISK.warnBytes) return warn(head, text, fix);
    return ok(head, text);
  });
}

export function judgeMemory(facts: CheckFacts): CheckResult[] {
  const m = facts.memory;
  if (!m) return [];
  const head = { id: 'host.memory', section: 'host' as const, subject: 'memory' };
  const free = m.availableBytes / m.totalBytes;
  const text = `${size(m.availableBytes)} available of ${size(m.totalBytes)} (${Math.round(free * 100)}%)`;
  const fix = 'find what uses it (ps aux --sort=-rss | head); rspamd and clamav are the usual ones; add memory or swap';
  if (free < MEMORY.failFree || m.availableBytes < MEMORY.failBytes) return [fail(head, text, fix)];
  if (free < MEMORY.warnFree) return [warn(head, text, fix)];
  return [ok(head, text)];
}

export const resources: Check<CheckEnv> = {
  section: 'host',
  name: 'resources',
  run: (env) => withHost(env, (view) => [...judgeDisks(view.check), ...judgeMemory(view.check)]),
};
