// Each daemon mailrig runs (optional ones only when the config turns them on) has its main process.
import { daemonSpec, daemonsFor, unitName } from '../../services/index.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, type Check } from '../types.js';
import { onHost, withHost } from './view.js';

export const daemons: Check<CheckEnv> = {
  section: 'host',
  name: 'daemons',
  run: (env) =>
    withHost(env, (view) =>
      daemonsFor(env.config).map((d) => {
        const head = { id: `host.daemon.${d}`, section: 'host' as const, subject: d };
        const pid = view.facts.services[d];
        const socket = daemonSpec(d).onDemandWithSystemd?.socket;
        if (pid === 0 && socket) return ok(head, `on demand (systemd listens for it: ${socket})`);
        if (pid !== undefined) return ok(head, `running (pid ${pid})`);
        const unit = unitName(daemonSpec(d), env.config.server.release);
        const start = view.facts.init === 'systemd' ? `systemctl enable --now ${socket ?? unit}` : `service ${unit} start`;
        return fail(head, 'not running', `mailrig apply starts it (or ${onHost(env, start)}); if it stops again, read its log`);
      }),
    ),
};
