// The host's own view, for the checks that need it: when SSH failed, those checks report nothing and
// the access check says why once.
import type { CheckEnv, HostView } from '../env.js';
import type { CheckResult } from '../types.js';

export async function withHost(env: CheckEnv, run: (view: HostView) => CheckResult[]): Promise<CheckResult[]> {
  const access = await env.host;
  return access.ok ? run(access.view) : [];
}

/** How to run a command on the host, for fix lines. */
export function onHost(env: CheckEnv, command: string): string {
  const ssh = env.config.server.ssh;
  return ssh === 'local' ? command : `ssh ${ssh} '${command}'`;
}
