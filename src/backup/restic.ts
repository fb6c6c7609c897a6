// restic on the host: where its pieces live and the command lines mailrig runs there. Pure builders,
// shared by the rendered backup script (render/backup.ts) and the commands run over SSH, so that what
// the unit tests pin is what the host runs.
import { quote, quoteAll } from '../host/shell.js';

/** Root-only environment: repository, password file, S3 credentials. Sourced by every restic run. */
export const BACKUP_ENV = '/etc/mailrig/backup.env';
export const PASSWORD_FILE = '/etc/mailrig/restic-password';
export const BACKUP_SCRIPT = '/usr/local/sbin/mailrig-backup';
export const BACKUP_LOG = '/var/log/mailrig-backup.log';
export const BACKUP_UNIT = 'mailrig-backup';
/** Runs the backup script now (as root), its output appended to the log; prints the log's tail, exits with the script's code. */
export function backupNowCommand(): string {
  return `[ -x ${BACKUP_SCRIPT} ] || { echo '${BACKUP_SCRIPT} is missing: run mailrig apply first' >&2; exit 3; }; ${BACKUP_SCRIPT} >>${BACKUP_LOG} 2>&1 </dev/null; rc=$?; tail -n 40 ${BACKUP_LOG}; exit $rc`;
}

/** Every snapshot mailrig makes carries this tag (and the mail host name as its host). */
export const BACKUP_TAG = 'mailrig';

/**
 * What a backup holds: the mail, every daemon's rendered configuration, mailrig's own files on the
 * host (TLS key and certificate, backup settings), the DKIM keys rspamd signs with, and Radicale's
 * calendars and contacts.
 */
export const BACKUP_PATHS = [
  '/var/vmail',
  '/etc/postfix',
  '/etc/dovecot',
  '/etc/rspamd',
  '/etc/nginx',
  '/etc/redis',
  '/etc/mailrig',
  '/var/lib/rspamd/dkim',
  // Calendars and contacts (dav: radicale), and its configuration; absent paths are skipped.
  '/etc/radicale',
  '/var/lib/radicale/collections',
];

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
}

/** `restic backup` without its paths (the script adds those that exist). */
export function backupArgs(hostname: string): string[] {
  return ['backup', '--tag', BACKUP_TAG, '--host', hostname];
}

/** restic's keep flags; a count of 0 keeps none of that kind, so the flag is left out. */
export function retentionFlags(r: Retention): string[] {
  return [
    ...(r.daily > 0 ? ['--keep-daily', String(r.daily)] : []),
    ...(r.weekly > 0 ? ['--keep-weekly', String(r.weekly)] : []),
    ...(r.monthly > 0 ? ['--keep-monthly', String(r.monthly)] : []),
  ];
}

/** Applies the retention to mailrig's snapshots of this host only, and frees the space (--prune). */
export function forgetArgs(hostname: string, r: Retention): string[] {
  const keep = retentionFlags(r);
  // Without any keep flag restic would refuse; keeping the last one is the safe reading of "0, 0, 0".
  return ['forget', '--prune', '--tag', BACKUP_TAG, '--host', hostname, ...(keep.length ? keep : ['--keep-last', '1'])];
}

/** Read-only listing (no lock, so it works while a backup runs). */
export function snapshotsArgs(hostname: string): string[] {
  return ['--no-lock', 'snapshots', '--json', '--tag', BACKUP_TAG, '--host', hostname];
}

/** Restore size and file count of one snapshot (or the latest of this host). */
export function statsArgs(hostname: string, snapshot = 'latest'): string[] {
  return ['--no-lock', 'stats', '--json', snapshot, ...(snapshot === 'latest' ? ['--host', hostname, '--tag', BACKUP_TAG] : [])];
}

/** Restores only `include` (an absolute path) from a snapshot under `target`. */
export function restoreArgs(hostname: string, snapshot: string, target: string, include: string): string[] {
  return [
    'restore',
    snapshot,
    ...(snapshot === 'latest' ? ['--host', hostname, '--tag', BACKUP_TAG] : []),
    '--target',
    target,
    '--include',
    include,
  ];
}

/** Creates the repository unless it exists already (and opens with this password). */
export function initCommand(): string {
  return `${withEnv('restic cat config >/dev/null 2>&1 || restic init')}`;
}

/** A restic command line, every argument quoted. */
export function restic(args: string[]): string {
  return `restic ${quoteAll(args)}`;
}

/** Runs `cmd` with the backup environment loaded; fails clearly when backups are not set up. */
export function withEnv(cmd: string): string {
  return `[ -r ${BACKUP_ENV} ] || { echo "${BACKUP_ENV} is missing: backups are not set up on this host (mailrig backup init)" >&2; exit 3; }; . ${BACKUP_ENV} && ${cmd}`;
}

/** Lines of the root-only environment file. Values are single-quoted for sh. */
export function envFileLines(repository: string, extra: Record<string, string>): string[] {
  return [
    `export RESTIC_REPOSITORY=${quote(repository)}`,
    `export RESTIC_PASSWORD_FILE=${PASSWORD_FILE}`,
    ...Object.keys(extra)
      .sort()
      .map((k) => `export ${k}=${quote(extra[k] ?? '')}`),
  ];
}
