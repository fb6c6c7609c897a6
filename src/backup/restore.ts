// Putting one mailbox's mail back from a snapshot, without touching any other mailbox — and without
// losing what arrived since: restic restores the mailbox's home into a temporary directory on the same
// file system; every message the mailbox no longer has is renamed back into its folder (an atomic
// rename, as Maildir expects); messages it still has, maybe with other flags, stay as they are. Then
// Dovecot resyncs its indexes. Pure: builds the script only.
import { quote } from '../host/shell.js';
import { mailHome, VMAIL } from '../render/vmail.js';
import { restic, restoreArgs, withEnv } from './restic.js';

export { mailHome };

export interface RestoreInput {
  address: string;
  /** A snapshot id (or its prefix), or "latest". */
  snapshot: string;
  /** The mail host name: snapshots are filtered by it. */
  hostname: string;
}

/** A snapshot argument restic accepts: "latest" or hex digits of an id. */
export function isSnapshotId(s: string): boolean {
  return s === 'latest' || /^[0-9a-f]{4,64}$/.test(s);
}

/** The script `mailrig restore` runs as root. Prints "restored N" for N messages put back. */
export function restoreScript(input: RestoreInput): string {
  const home = mailHome(input.address);
  const owner = `${VMAIL.user}:${VMAIL.user}`;
  const body = `set -eu
home=${quote(home)}
# Beside the mailboxes, so that putting a message back is a rename; Dovecot never looks at dot names here.
tmp=$(mktemp -d ${VMAIL.home}/.mailrig-restore.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
${restic(restoreArgs(input.hostname, input.snapshot, '@TARGET@', home)).replace('@TARGET@', '"$tmp"')} >&2
src="$tmp$home"
if [ ! -d "$src" ]; then echo ${quote(`the snapshot holds no mail for ${input.address}`)} >&2; exit 4; fi
install -d -o ${VMAIL.user} -g ${VMAIL.user} -m 0750 "$(dirname "$home")"
[ -d "$home" ] || install -d -o ${VMAIL.user} -g ${VMAIL.user} -m 0700 "$home"
cd "$src"
# Folders first: one deleted since comes back.
find . -mindepth 1 -type d > "$tmp/.dirs"
while IFS= read -r d; do
  [ -d "$home/$d" ] || { mkdir -p "$home/$d"; chown ${owner} "$home/$d"; chmod 0700 "$home/$d"; }
done < "$tmp/.dirs"
# A message is "still there" when a file with its unique base name (before ":2,") is in cur/ or new/.
# (sh has no local variables: the function keeps to its own name.)
present() { for present_f in "$1" "$1":*; do [ -e "$present_f" ] && return 0; done; return 1; }
restored=0
find . -type f \\( -path '*/cur/*' -o -path '*/new/*' \\) > "$tmp/.messages"
while IFS= read -r f; do
  dir=\${f%/*}; folder=\${dir%/*}; name=\${f##*/}; base=\${name%%:*}
  if present "$home/$folder/cur/$base" || present "$home/$folder/new/$base"; then continue; fi
  chown ${owner} "$f"
  mv "$f" "$home/$f"
  restored=$((restored + 1))
done < "$tmp/.messages"
# Other files (subscriptions, sieve scripts) only where missing; never Dovecot's indexes or uid lists,
# which the resync below rebuilds for the messages that are there now.
find . -type f ! -path '*/cur/*' ! -path '*/new/*' ! -path '*/tmp/*' ! -name 'dovecot*' > "$tmp/.others"
while IFS= read -r f; do
  [ -e "$home/$f" ] || { chown ${owner} "$f"; mv "$f" "$home/$f"; }
done < "$tmp/.others"
doveadm force-resync -u ${quote(input.address)} '*'
echo "restored $restored"
`;
  return withEnv(`{\n${body}}`);
}

/** The count restoreScript printed. */
export function parseRestored(stdout: string): number | undefined {
  const m = /^restored (\d+)$/m.exec(stdout);
  return m ? Number(m[1]) : undefined;
}
