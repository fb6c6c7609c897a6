// The shell each upgrade step runs on the host as root, as pure functions of their inputs (readable
// and testable without a host). Every script is safe to run again after it failed half-way.
import { quote, quoteAll } from '../host/shell.js';
import { JOURNAL } from './journal.js';

/** Where the upgrade keeps what it changed before the package upgrade, to put it back. */
export const SAVED = `${JOURNAL}.saved`;

const APT = 'apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/**
 * Pauses intake on port 25: the smtpd behind postscreen defers every client (`defer`: 450, "try
 * again later"), so senders keep the mail and retry. main.cf is kept first; mailrig's rendered
 * main.cf (written at the apply step) has no such line, which resumes intake.
 */
export function pauseScript(): string {
  return `set -e
install -d -m 0700 ${SAVED}
[ -e ${SAVED}/main.cf ] || cp -a /etc/postfix/main.cf ${SAVED}/main.cf
postconf -e 'smtpd_client_restrictions = defer'
postfix reload >/dev/null 2>&1 || true
`;
}

/** Puts main.cf back as it was and reloads Postfix (or starts it, if the upgrade had stopped it). */
export function resumeFromSavedScript(): string {
  return `set -e
if [ -e ${SAVED}/main.cf ]; then cp -a ${SAVED}/main.cf /etc/postfix/main.cf; fi
if postfix status >/dev/null 2>&1; then postfix reload >/dev/null 2>&1; else systemctl start postfix </dev/null >/dev/null 2>&1 || service postfix start </dev/null >/dev/null 2>&1; fi
`;
}

/** Keeps every apt source file, then names the new suite where the old one stood (`bookworm-security` too). */
export function sourcesScript(files: string[], fromSuite: string, toSuite: string): string {
  const keep = files.map((f) => `[ -e ${SAVED}/apt${f} ] || { install -d -m 0700 "$(dirname ${SAVED}/apt${f})"; cp -a ${quote(f)} ${SAVED}/apt${f}; }`);
  return [
    'set -e',
    `install -d -m 0700 ${SAVED}/apt`,
    ...keep,
    // Only where a suite is named: `deb` lines and deb822 `Suites:` fields, never comments or URIs.
    // Twice: neighbouring suites share the blank between them, which one pass consumes.
    `sed -i -E '/^[[:space:]]*(deb(-src)?|Suites:)[[:space:]]/ { ${`s/(^|[[:space:]])${fromSuite}([-[:space:]]|$)/\\1${toSuite}\\2/g`.repeat(2).replace('/g', '/g; ')} }' ${quoteAll(files)}`,
    'apt-get -q -o DPkg::Lock::Timeout=600 update',
    '',
  ].join('\n');
}

/** Puts the kept apt sources back and reads the old release's lists again. */
export function restoreSourcesScript(): string {
  return `set -e
# File by file: the kept copies' directories are private, the live ones must keep their modes.
if [ -d ${SAVED}/apt ]; then (cd ${SAVED}/apt && find . -type f | while IFS= read -r f; do cp -a "$f" "/\${f#./}"; done); fi
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null 2>&1 || true
`;
}

export function downloadScript(): string {
  return `set -e
export DEBIAN_FRONTEND=noninteractive
${APT} --download-only full-upgrade
`;
}

/** Stops the daemons in reverse start order: Postfix writes its queue, Dovecot its indexes, Redis its data. */
export function stopScript(units: string[]): string {
  return ['set -e', ...[...units].reverse().map((u) => `systemctl stop ${quote(u)} </dev/null >/dev/null 2>&1 || service ${quote(u)} stop </dev/null >/dev/null 2>&1 || true`), ''].join('\n');
}

/**
 * The package upgrade. policy-rc.d keeps the maintainer scripts from starting mailrig's daemons
 * (Dovecot 2.4 refuses the 2.3 configuration; the apply step starts each with its new one); every
 * other service restarts as the packages ask. --force-confold keeps mailrig's files; the apply step
 * then writes the Debian 13 versions. `held` restarts at the end: the resolver apt and apply need.
 */
export function packagesScript(denied: string[], restart: string[]): string {
  const policy = `#!/bin/sh\n# mailrig-upgrade: the upgrade's apply step starts these\ncase "$1" in ${denied.join('|')}) exit 101 ;; esac\nexit 0\n`;
  return `set -e
export DEBIAN_FRONTEND=noninteractive
mine=
if [ ! -e /usr/sbin/policy-rc.d ] || grep -q mailrig-upgrade /usr/sbin/policy-rc.d; then
  printf '%s' ${quote(policy)} > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && mine=1
fi
trap '[ -n "$mine" ] && rm -f /usr/sbin/policy-rc.d' EXIT
dpkg --configure -a
${APT} full-upgrade
${APT} autoremove
dpkg --audit | grep . && { echo 'dpkg reports packages not fully installed' >&2; exit 1; }
${restart.map((u) => `systemctl restart ${quote(u)} </dev/null >/dev/null 2>&1 || true`).join('\n')}
cat /etc/debian_version
`;
}

/** Whether the pause is gone from the running Postfix (mailrig's rendered main.cf has none). */
export function resumedScript(): string {
  return `set -e
if postconf -h smtpd_client_restrictions | grep -qw defer; then echo 'Postfix still defers every client' >&2; exit 1; fi
rm -rf ${SAVED}
`;
}

/** Where the Debian 13 validation unpacks the downloaded packages, and stages the new tree. */
export const UNPACKED = `${JOURNAL}.debs`;
export const VALIDATE_STAGE = `${JOURNAL}.validate`;
const ARCHIVES = '/var/cache/apt/archives';

/**
 * Downloads the packages the new release's plan adds (the full upgrade's are downloaded already),
 * then prints apt's simulation of the full upgrade and of those installs: the packages the host
 * will run, parsed by `debsOfSimulation`.
 */
export function simulateScript(installs: string[]): string {
  return [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    ...(installs.length ? [`${APT} --download-only install ${quoteAll(installs)} >/dev/null`] : []),
    `${APT} -s full-upgrade`,
    ...(installs.length ? [`${APT} -s install ${quoteAll(installs)}`] : []),
    '',
  ].join('\n');
}

/**
 * apt's "Inst name [old] (version release [arch])" lines → the .deb file names apt keeps in its
 * archives (the epoch's colon written %3a), each once.
 */
export function debsOfSimulation(text: string): string[] {
  const debs = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([^\]]+)\]\)/.exec(line);
    if (!m) continue;
    const [, name = '', version = '', arch = ''] = m;
    debs.add(`${name.replace(/:.*$/, '')}_${version.replace(/:/g, '%3a')}_${arch}.deb`);
  }
  return [...debs].sort();
}

/**
 * Unpacks the packages (no maintainer script runs) into `dir`, with the live root's merged-/usr
 * links, so that their binaries and libraries can be laid over the live system to validate with.
 */
export function unpackScript(dir: string, debs: string[], archives = ARCHIVES): string {
  return [
    'set -e',
    `rm -rf --one-file-system ${quote(dir)}`,
    `install -d -m 0700 ${quote(dir)}`,
    `for l in bin sbin lib lib32 lib64 libx32; do if [ -L /$l ]; then cp -P /$l ${quote(dir)}/$l; install -d ${quote(dir)}/"$(readlink /$l)"; fi; done`,
    `cd ${quote(archives)}`,
    `for deb in ${quoteAll(debs)}; do`,
    `  [ -f "$deb" ] || { echo "${archives}/$deb was not downloaded" >&2; exit 1; }`,
    `  dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C ${quote(dir)}`,
    'done',
    '',
  ].join('\n');
}

/** Removes what the validation left: the unpacked packages and the stage (its mounts died with their namespace). */
export function unpackedCleanupScript(): string {
  return `rm -rf --one-file-system ${quote(UNPACKED)} ${quote(VALIDATE_STAGE)}\n`;
}
