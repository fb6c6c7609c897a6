// The inside view itself: mailrig logged in and read the host's facts, or says why it could not.
import type { CheckEnv } from '../env.js';
import { fail, ok, warn, type Check, type CheckResult } from '../types.js';

export const hostAccess: Check<CheckEnv> = {
  section: 'host',
  name: 'access',
  async run(env): Promise<CheckResult[]> {
    const head = { id: 'host.access', section: 'host' as const, subject: 'inside view' };
    const access = await env.host;
    if (access.ok) return [ok(head, `${access.view.target}: ${access.view.facts.os.prettyName}`)];
    if (access.error === 'skipped') {
      return [warn(head, 'skipped (--outside-only): daemons, queue, disk, updates and drift were not checked', 'run mailrig check without --outside-only')];
    }
    return [fail(head, `cannot read the host's state: ${access.error}`, `make "ssh ${env.config.server.ssh}" work (or pass --identity / --known-hosts), then re-run`)];
  },
};
