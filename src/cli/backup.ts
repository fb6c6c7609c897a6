// mailrig backup init | status | now, and mailrig restore --mailbox: restic on the host.
// init edits mailrig.yaml (comments kept), makes the repository password in .mailrig and applies —
// apply's backup hook (backup/schedule.ts) activates the daily schedule and runs restic init. The
// other commands are one SSH connection each, running the builders of src/backup/.
import { resolve } from 'node:path';
import { setSectionEntries, saveEdit, validateEdit } from '../config/edit.js';
import { readConfigFile } from '../config/load.js';
import { allMailboxes } from '../config/model.js';
import { displayAddress, isEmailAddress, normalizeAddress } from '../config/syntax.js';
import { RuntimeError, UsageError } from '../errors.js';
import { ensureBackupSecrets, RESTIC_PASSWORD_FILE } from '../keys/backup.js';
import { keyDirFor } from '../keys/store.js';
import { S3_ENV, S3_ENV_OPTIONAL, repositoryKind } from '../config/repository.js';
import { BACKUP_LOG, BACKUP_SCRIPT, backupNowCommand } from '../backup/restic.js';
import { backupStatus, type BackupStatus } from '../backup/status.js';
import { isSnapshotId, parseRestored, restoreScript } from '../backup/restore.js';
import { openTransport, runApply, type HostOptions } from './apply.js';
import { loadProject, type Project } from '../pipeline/project.js';
import { progress } from './progress.js';

const out = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`mailrig: warning: ${line}\n`);

export interface BackupInitOptions extends HostOptions {
  repo: string;
  yes?: boolean;
  /** Only edit mailrig.yaml and .mailrig; `mailrig apply` does the rest later. */
  apply?: boolean;
}

/** S3 credentials from the environment of `backup init`; they go to .mailrig, never to mailrig.yaml. */
function s3Env(env: NodeJS.ProcessEnv): Record<string, string> {
  const missing = S3_ENV.filter((k) => !env[k]);
  if (missing.length) throw new UsageError(`an S3 repository needs ${missing.join(' and ')} in the environment of mailrig backup init`);
  const out: Record<string, string> = {};
  for (const k of [...S3_ENV, ...S3_ENV_OPTIONAL]) if (env[k]) out[k] = env[k] ?? '';
  return out;
}

export async function runBackupInit(opts: BackupInitOptions): Promise<number> {
  const kind = repositoryKind(opts.repo);
  if (!kind) {
    throw new UsageError(`--repo ${opts.repo}: not a repository mailrig sets up (a local path like /var/backups/mailrig-restic, sftp:user@host:/path or s3:https://host/bucket)`);
  }
  const path = resolve(opts.config);
  const edited = setSectionEntries(readConfigFile(path), 'backup', { repository: opts.repo });
  validateEdit(path, edited);
  const made = ensureBackupSecrets(keyDirFor(path), kind === 's3' ? s3Env(process.env) : undefined);
  saveEdit(path, edited);
  out(`${opts.config}: backup.repository: ${opts.repo}`);
  if (made.includes(RESTIC_PASSWORD_FILE)) {
    out(`.mailrig/${RESTIC_PASSWORD_FILE}: the repository password. Keep a copy away from this machine and the server: without it no backup can be read.`);
  }
  if (kind === 'local') warn(`${opts.repo} is on the server itself: it protects against mistakes, not against losing the server's disk. Prefer sftp: or s3: for a second copy.`);
  if (kind === 'sftp') out("The server's root must log in to the SFTP server without a password (its key in the SFTP server's authorized_keys).");
  if (opts.apply === false) {
    out('Next: mailrig apply installs restic, the daily backup and creates the repository.');
    return 0;
  }
  await runApply({ ...opts, ...(opts.yes ? { yes: true } : {}) });
  return 0;
}

function loadBackupProject(project: Project): NonNullable<Project['config']['backup']> {
  const { backup } = project.config;
  if (!backup) throw new UsageError(`${project.configPath}: no backup section; run mailrig backup init --repo …`);
  return backup;
}

function showStatus(host: string, s: BackupStatus): void {
  out(`${host}: ${s.repository ?? 'no repository'}`);
  out(`  ${s.message}${s.snapshotCount > 1 ? `; ${s.snapshotCount} snapshots kept` : ''}`);
  if (s.error) out(s.error.split('\n').map((l) => `  | ${l}`).join('\n'));
}

export async function runBackupStatus(opts: HostOptions & { json?: boolean }): Promise<number> {
  const project = await loadProject(opts.config);
  loadBackupProject(project);
  const host = await openTransport(project, opts);
  try {
    const status = await backupStatus(host, project.config);
    if (opts.json) out(JSON.stringify(status, null, 2));
    else {
      showStatus(host.target, status);
      if (status.level === 'warn') warn(status.message);
    }
    return status.level === 'ok' ? 0 : 1;
  } finally {
    await host.close();
  }
}

export async function runBackupNow(opts: HostOptions & { json?: boolean }): Promise<number> {
  const project = await loadProject(opts.config);
  loadBackupProject(project);
  const host = await openTransport(project, opts);
  try {
    const steps = opts.json ? { step: () => undefined, end: () => undefined } : progress();
    steps.step(`backing up on ${host.target} (${BACKUP_SCRIPT})`);
    const r = await host.exec(backupNowCommand(), { sudo: true });
    steps.end(r.code === 0);
    if (r.code !== 0) {
      throw new RuntimeError(`${host.target}: the backup failed (exit ${r.code}); its log is ${BACKUP_LOG}`, `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n'));
    }
    const status = await backupStatus(host, project.config);
    if (opts.json) out(JSON.stringify(status, null, 2));
    else {
      const saved = /snapshot ([0-9a-f]+) saved/.exec(r.stdout);
      out(`${host.target}: ${saved ? `snapshot ${saved[1]} saved` : 'backup done'}`);
      showStatus(host.target, status);
    }
    return 0;
  } finally {
    await host.close();
  }
}

export interface RestoreOptions extends HostOptions {
  mailbox: string;
  snapshot?: string;
  json?: boolean;
}

export async function runRestore(opts: RestoreOptions): Promise<number> {
  if (!isEmailAddress(opts.mailbox)) throw new UsageError(`--mailbox ${opts.mailbox}: not an email address`);
  const snapshot = opts.snapshot ?? 'latest';
  if (!isSnapshotId(snapshot)) throw new UsageError(`--snapshot ${snapshot}: not a snapshot id (hex digits, as mailrig backup status shows them)`);
  const project = await loadProject(opts.config);
  loadBackupProject(project);
  const address = normalizeAddress(opts.mailbox);
  if (!allMailboxes(project.config).some((m) => m.address === address)) {
    throw new UsageError(`${displayAddress(address)}: no such mailbox in ${project.configPath} (Dovecot must know it to take the mail back)`);
  }
  const host = await openTransport(project, opts);
  try {
    const steps = opts.json ? { step: () => undefined, end: () => undefined } : progress();
    steps.step(`restoring ${displayAddress(address)} from snapshot ${snapshot} on ${host.target}`);
    const r = await host.exec('sh -s', { stdin: restoreScript({ address, snapshot, hostname: project.config.server.hostname }), sudo: true });
    steps.end(r.code === 0);
    const detail = r.stderr.trim().split('\n').slice(-8).join('\n');
    if (r.code === 4) throw new RuntimeError(`${host.target}: snapshot ${snapshot} holds no mail for ${displayAddress(address)}; nothing was changed`);
    if (r.code !== 0) throw new RuntimeError(`${host.target}: restoring ${displayAddress(address)} failed (exit ${r.code})`, detail);
    const restored = parseRestored(r.stdout) ?? 0;
    if (opts.json) out(JSON.stringify({ mailbox: address, snapshot, restored }, null, 2));
    else {
      out(
        restored === 0
          ? `${displayAddress(address)}: nothing to restore; every message of snapshot ${snapshot} is in the mailbox`
          : `${displayAddress(address)}: ${restored} message${restored === 1 ? '' : 's'} restored from snapshot ${snapshot}; other mailboxes untouched, mail that arrived since kept`,
      );
    }
    return 0;
  } finally {
    await host.close();
  }
}
