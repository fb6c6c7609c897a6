// Where restic keeps the backups: the three kinds of repository backup.repository may name — a local
// path on the host (another disk, ideally), an SFTP server, or an S3-compatible bucket. Pure; the
// schema validates with it, and `mailrig backup init` asks for the credentials each kind needs.

export type RepositoryKind = 'local' | 'sftp' | 's3';

/** The kind of a restic repository string, or undefined when it is none mailrig supports. */
export function repositoryKind(repo: string): RepositoryKind | undefined {
  if (/\s/.test(repo) || repo.includes('..')) return undefined;
  if (/^\/[^\0]*[^/]$/.test(repo) && repo !== '/') return 'local';
  // sftp:user@host:/path, sftp:host:/path, sftp://user@host[:port]//path
  if (/^sftp:([^@:/\s]+@)?[^@:/\s]+:.+$/.test(repo) || /^sftp:\/\/([^@/\s]+@)?[^@/\s]+(:\d+)?\/.+$/.test(repo)) return 'sftp';
  // s3:https://host[:port]/bucket[/prefix], s3:host/bucket (restic's short form, https by default)
  if (/^s3:https?:\/\/[^/\s]+\/[^/\s]+.*$/.test(repo) || /^s3:[a-z0-9.-]+(:\d+)?\/[^/\s]+.*$/i.test(repo)) return 's3';
  return undefined;
}

export function isResticRepository(repo: string): boolean {
  return repositoryKind(repo) !== undefined;
}

/** The environment variables an S3 repository needs on the host; kept in .mailrig, never in mailrig.yaml. */
export const S3_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
/** Optional ones, passed on when set at `backup init`. */
export const S3_ENV_OPTIONAL = ['AWS_DEFAULT_REGION', 'AWS_SESSION_TOKEN'] as const;
