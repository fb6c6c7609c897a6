// Parsers of restic's JSON output (`restic snapshots --json`, `restic stats --json`), tested on output
// recorded from restic 0.14 (Debian 12). Fields newer restic adds are ignored; missing ones are errors.

export interface Snapshot {
  id: string;
  shortId: string;
  /** ISO 8601, as restic wrote it (nanoseconds and offset included). */
  time: string;
  /** Milliseconds since the epoch. */
  timeMs: number;
  hostname: string;
  tags: string[];
  paths: string[];
}

export interface SnapshotStats {
  /** Bytes a restore of the snapshot writes. */
  totalSize: number;
  totalFileCount: number;
}

export class ResticOutputError extends Error {
  override name = 'ResticOutputError';
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text.trim());
  } catch {
    throw new ResticOutputError(`${what}: not JSON: ${text.trim().slice(0, 200)}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Snapshots, oldest first. */
export function parseSnapshots(text: string): Snapshot[] {
  const data = json(text, 'restic snapshots');
  if (!Array.isArray(data)) throw new ResticOutputError('restic snapshots: expected a JSON array');
  const out = data.map((s, i): Snapshot => {
    if (!isRecord(s) || typeof s.id !== 'string' || typeof s.time !== 'string') {
      throw new ResticOutputError(`restic snapshots: entry ${i} has no id or time`);
    }
    const timeMs = Date.parse(s.time);
    if (Number.isNaN(timeMs)) throw new ResticOutputError(`restic snapshots: entry ${i}: time ${s.time} is not a date`);
    return {
      id: s.id,
      shortId: typeof s.short_id === 'string' ? s.short_id : s.id.slice(0, 8),
      time: s.time,
      timeMs,
      hostname: typeof s.hostname === 'string' ? s.hostname : '',
      tags: strings(s.tags),
      paths: strings(s.paths),
    };
  });
  return out.sort((a, b) => a.timeMs - b.timeMs);
}

export function parseStats(text: string): SnapshotStats {
  const data = json(text, 'restic stats');
  if (!isRecord(data) || typeof data.total_size !== 'number') throw new ResticOutputError('restic stats: no total_size');
  return { totalSize: data.total_size, totalFileCount: typeof data.total_file_count === 'number' ? data.total_file_count : 0 };
}

/** The newest snapshot, or undefined for an empty repository. */
export function latest(snapshots: Snapshot[]): Snapshot | undefined {
  return snapshots.reduce<Snapshot | undefined>((a, s) => (a === undefined || s.timeMs > a.timeMs ? s : a), undefined);
}

/** restic's own message for a repository that is not there (or not initialised). */
export function isMissingRepository(stderr: string): boolean {
  return /Is there a repository at the following location\?|unable to open config file|repository does not exist/.test(stderr);
}
