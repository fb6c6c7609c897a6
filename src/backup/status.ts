// How old the newest backup is — for `mailrig backup status` and `mailrig check`. The host is asked
// once (one script, two restic calls, no lock); deciding ok/warn from the answer is pure, with the
// clock injected.
import type { Config } from '../config/model.js';
import { readSections, sectionHeader } from '../host/sections.js';
import type { Transport } from '../host/transport.js';
import { latest, parseSnapshots, parseStats, type Snapshot, type SnapshotStats } from './parse.js';
import { BACKUP_ENV, restic, snapshotsArgs, statsArgs } from './restic.js';

/** A backup older than this is reported as a warning. */
export const MAX_AGE_MS = 2 * 24 * 3600 * 1000;

export interface BackupStatus {
  /** False when mailrig.yaml has no backup section: nothing was asked of the host. */
  configured: boolean;
  repository?: string;
  /** ok: a snapshot younger than two days; warn: older, none yet, or the repository unreadable. */
  level: 'ok' | 'warn';
  /** One line for people, e.g. "last backup 2026-03-01 03:30 UTC (5 h ago), 1.2 GB". */
  message: string;
  latest?: { id: string; shortId: string; time: string };
  ageSeconds?: number;
  /** Restore size of the latest snapshot, bytes. */
  sizeBytes?: number;
  fileCount?: number;
  snapshotCount: number;
  /** restic's complaint, when the repository could not be read. */
  error?: string;
}

/** The one script `backupStatus` runs (as root): each restic call's exit code, then its output. */
export function statusScript(hostname: string): string {
  const section = (name: string, args: string[]) =>
    `out=$(${restic(args)} 2>&1); rc=$?; printf '${sectionHeader('backup', '%s %s')}\\n%s\\n' ${name} "$rc" "$out"`;
  return [
    `if [ ! -r ${BACKUP_ENV} ]; then echo '${sectionHeader('backup', 'missing 0')}'; exit 0; fi`,
    `. ${BACKUP_ENV}`,
    section('snapshots', snapshotsArgs(hostname)),
    section('stats', statsArgs(hostname)),
    '',
  ].join('\n');
}

export interface StatusOutput {
  missing: boolean;
  snapshots?: Snapshot[];
  stats?: SnapshotStats;
  error?: string;
}

/** Reads statusScript's output. */
export function parseStatusOutput(text: string): StatusOutput {
  const parts = new Map<string, { rc: number; body: string }>();
  for (const [header, lines] of readSections(text, 'backup')) {
    const m = /^(\S+) (\d+)$/.exec(header);
    if (m) parts.set(m[1] ?? '', { rc: Number(m[2]), body: lines.join('\n') });
  }
  if (parts.has('missing')) return { missing: true };
  const snaps = parts.get('snapshots');
  if (!snaps) return { missing: false, error: 'no answer from the host' };
  if (snaps.rc !== 0) return { missing: false, error: lastLines(snaps.body) };
  const snapshots = parseSnapshots(snaps.body);
  const stats = parts.get('stats');
  // An empty repository has no "latest" to measure: stats fails, which is no error of the repository.
  return { missing: false, snapshots, ...(stats && stats.rc === 0 && snapshots.length ? { stats: parseStats(stats.body) } : {}) };
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** 5400 → "1 h 30 min"; coarse on purpose. */
export function formatAge(seconds: number): string {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  return `${Math.floor(hours / 24)} days`;
}

/** The verdict on what the host said, at `now`. Pure. */
export function assessBackup(config: Config, out: StatusOutput, now: Date): BackupStatus {
  const repository = config.backup?.repository;
  const base = { configured: true, ...(repository ? { repository } : {}) };
  if (out.missing) {
    return { ...base, level: 'warn', snapshotCount: 0, message: 'backups are not set up on the host yet (mailrig apply, or mailrig backup init)' };
  }
  if (out.error !== undefined || !out.snapshots) {
    return { ...base, level: 'warn', snapshotCount: 0, message: `the backup repository ${repository ?? ''} could not be read`, error: out.error ?? '' };
  }
  const last = latest(out.snapshots);
  if (!last) {
    return { ...base, level: 'warn', snapshotCount: 0, message: `no backup yet in ${repository ?? 'the repository'} (mailrig backup now makes one)` };
  }
  const ageSeconds = Math.round((now.getTime() - last.timeMs) / 1000);
  const stale = now.getTime() - last.timeMs > MAX_AGE_MS;
  const when = `${new Date(last.timeMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const size = out.stats ? `, ${formatBytes(out.stats.totalSize)}` : '';
  return {
    ...base,
    level: stale ? 'warn' : 'ok',
    message: `${stale ? 'the last backup is older than 2 days: ' : 'last backup '}${when} (${formatAge(ageSeconds)} ago)${size}, snapshot ${last.shortId}`,
    latest: { id: last.id, shortId: last.shortId, time: last.time },
    ageSeconds,
    ...(out.stats ? { sizeBytes: out.stats.totalSize, fileCount: out.stats.totalFileCount } : {}),
    snapshotCount: out.snapshots.length,
  };
}

/**
 * The backup status of the configured host, over an open transport (one exec). For `mailrig check`:
 * level 'warn' when the newest snapshot is older than two days, there is none, or it cannot be read.
 */
export async function backupStatus(host: Transport, config: Config, now: Date = new Date()): Promise<BackupStatus> {
  if (!config.backup) {
    return { configured: false, level: 'warn', snapshotCount: 0, message: 'no backups configured (mailrig backup init --repo …)' };
  }
  const r = await host.exec('sh -s', { stdin: statusScript(config.server.hostname), sudo: true });
  if (r.code !== 0) return assessBackup(config, { missing: false, error: lastLines(`${r.stdout}\n${r.stderr}`) }, now);
  return assessBackup(config, parseStatusOutput(r.stdout), now);
}
