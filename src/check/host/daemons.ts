// Each daemon mailrig runs has its main process.
import { DAEMONS } from '../../plan/plan.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, type Check } from '../types.js';
import { onHost, withHost } from './view.js';

export const daemons: Check<CheckEnv> = {
  section: 'host',
  name: 'daemons',
  run: (env) =>
    withHost(env, (view) =>
      DAEMONS.map((d) => {
        const head = { id: `host.daemon.${d}`, section: 'host' as const, subject: d };
        const pid = view.facts.services[d];
        if (pid !== undefined) return ok(head, `running (pid ${pid})`);
        const start = view.facts.init === 'systemd' ? `systemctl start ${d === 'redis' ? 'redis-server' : d}` : `service ${d === 'redis' ? 'redis-server' : d} start`;
        return fail(head, 'not running', `mailrig apply starts it (or ${onHost(env, start)}); if it stops again, read its log`);
      }),
    ),
};
