// SSH password login: a brute-force target that a mail server (which already shows up on scans)
// does not need. Judged from `sshd -T`, the effective configuration.
import type { CheckFacts } from '../../host/facts-check.js';
import type { CheckEnv } from '../env.js';
import { ok, unknown, warn, type Check, type CheckResult } from '../types.js';
import { withHost } from './view.js';

export function judgeSsh(facts: CheckFacts): CheckResult {
  const head = { id: 'host.ssh-password', section: 'host' as const, subject: 'SSH password login' };
  const s = facts.sshd;
  if (s.passwordauthentication === undefined) return unknown(head, 'sshd -T printed nothing', 'run sshd -T on the host as root to see why');
  const fix = 'set PasswordAuthentication no and KbdInteractiveAuthentication no in /etc/ssh/sshd_config.d/, then reload ssh (log in with a key first)';
  if (s.permitemptypasswords === 'yes') return warn(head, 'enabled, with empty passwords allowed', fix);
  if (s.passwordauthentication === 'yes') return warn(head, 'enabled (PasswordAuthentication yes)', fix);
  if (s.kbdinteractiveauthentication === 'yes' && s.usepam === 'yes') {
    return warn(head, 'enabled through PAM (KbdInteractiveAuthentication yes)', fix);
  }
  return ok(head, 'disabled (keys only)');
}

export const sshLogin: Check<CheckEnv> = {
  section: 'host',
  name: 'ssh',
  run: (env) => withHost(env, (view) => [judgeSsh(view.check)]),
};
