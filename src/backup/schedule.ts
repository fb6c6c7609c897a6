// After an apply of a config with backups: the daily schedule is made active and the repository
// exists. The init system is decided on the host itself, like the rendered cron entry does: where
// systemd is PID 1 the timer is enabled (and systemd re-reads changed units), elsewhere cron must run.
import { RuntimeError } from '../errors.js';
import type { Transport } from '../host/transport.js';
import { isMissingRepository } from './parse.js';
import { BACKUP_UNIT, initCommand, withEnv } from './restic.js';

/** Enables the timer (systemd) or starts cron (elsewhere); idempotent and cheap when nothing changed. */
export function activateScript(unitsChanged: boolean): string {
  const systemd = unitsChanged
    ? `systemctl daemon-reload && systemctl enable --now ${BACKUP_UNIT}.timer`
    : `systemctl is-enabled --quiet ${BACKUP_UNIT}.timer && systemctl is-active --quiet ${BACKUP_UNIT}.timer || { systemctl daemon-reload && systemctl enable --now ${BACKUP_UNIT}.timer; }`;
  // cron reads /etc/cron.d by itself; it only has to run (a package installed under policy-rc.d did not start it).
  return `if [ -d /run/systemd/system ]; then ${systemd}; else pgrep -x cron >/dev/null || service cron start; fi`;
}

export interface EnsureResult {
  /** The repository was created now. */
  initialized: boolean;
}

/** Activates the schedule and creates the repository when missing. Throws RuntimeError on failure. */
export async function ensureBackup(host: Transport, unitsChanged: boolean): Promise<EnsureResult> {
  const a = await host.exec(activateScript(unitsChanged), { sudo: true, detachStreams: true });
  if (a.code !== 0) throw new RuntimeError(`${host.target}: activating the daily backup failed (exit ${a.code})`, a.stderr.trim());
  const probe = await host.exec(withEnv('restic cat config >/dev/null'), { sudo: true });
  if (probe.code === 0) return { initialized: false };
  if (!isMissingRepository(probe.stderr)) {
    throw new RuntimeError(`${host.target}: the backup repository cannot be opened (exit ${probe.code})`, probe.stderr.trim().split('\n').slice(-5).join('\n'));
  }
  const r = await host.exec(initCommand(), { sudo: true });
  if (r.code !== 0) throw new RuntimeError(`${host.target}: restic init failed (exit ${r.code})`, r.stderr.trim().split('\n').slice(-5).join('\n'));
  return { initialized: true };
}

/** apply's hook (config with backups, host converged): schedule active, repository there. */
export async function backupAfterApply(
  host: Transport,
  changedPaths: string[],
  repository: string,
  out: (line: string) => void,
): Promise<void> {
  const unitsChanged = changedPaths.some((p) => p.startsWith(`/etc/systemd/system/${BACKUP_UNIT}.`));
  const { initialized } = await ensureBackup(host, unitsChanged);
  if (initialized) out(`${host.target}: backup repository ${repository} created (restic init)`);
}
