// The backup repository, made to exist by the plan's "backup repository" operation: opened when it is
// there, created (restic init) when missing; either way the repository is then recorded on the host
// (REPOSITORY_MARKER), so the next plan knows it exists without asking the repository.
import { quote } from '../host/shell.js';
import { withEnv } from './restic.js';

/** Where the host records the repository it has made sure exists. */
export const REPOSITORY_MARKER = '/var/lib/mailrig/backup-repository';

/** What the marker holds for a repository (the plan compares its hash). */
export function markerContent(repository: string): string {
  return `${repository}\n`;
}

/** Opens or creates the repository, then records it; prints "created" when it made it. */
export function repositoryScript(repository: string): string {
  const missing = 'Is there a repository at the following location\\?|unable to open config file|repository does not exist';
  return withEnv(
    [
      'err=$(mktemp)',
      'if ! restic cat config >/dev/null 2>"$err"; then',
      `  if grep -Eq ${quote(missing)} "$err"; then restic init >/dev/null || { rm -f "$err"; exit 1; }; echo created`,
      '  else tail -n 5 "$err" >&2; rm -f "$err"; exit 1; fi',
      'fi',
      'rm -f "$err"',
      `printf '%s' ${quote(markerContent(repository))} > ${REPOSITORY_MARKER}`,
    ].join('\n'),
  );
}
