// The plan's operations beyond files, packages and services, as shell scripts run as root: timers
// enabled or disabled, cron made to run, the backup repository made to exist. Pure.
import { repositoryScript } from '../backup/schedule.js';
import type { Task } from '../plan/plan.js';

/** A schedule change; a disable runs before the unit files are removed (systemd still knows them). */
export function scheduleScript(task: Extract<Task, { kind: 'schedule' }>): string {
  const timer = `${task.unit}.timer`;
  if (task.init === 'sysv') {
    // cron reads /etc/cron.d by itself; it only has to run (a package installed under policy-rc.d did not start it).
    return 'pgrep -x cron >/dev/null || service cron start </dev/null >/dev/null 2>&1';
  }
  if (task.action === 'enable') return `systemctl daemon-reload && systemctl enable --now ${timer}`;
  return `systemctl disable --now ${timer} 2>/dev/null || true`;
}

/** Tasks apply runs on the host before the swap: schedules that go away. */
export function beforeSwap(tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => t.kind === 'schedule' && t.action === 'disable');
}

/** Tasks apply runs on the host after the services: schedules that start, the backup repository. */
export function afterServices(tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => (t.kind === 'schedule' && t.action === 'enable') || t.kind === 'backup-repository');
}

/** The script of a host task (the certificate is the pipeline's: it talks to the CA from here). */
export function taskScript(task: Task): string | undefined {
  switch (task.kind) {
    case 'schedule':
      return scheduleScript(task);
    case 'backup-repository':
      return repositoryScript(task.repository);
    case 'certificate':
      return undefined;
  }
}
