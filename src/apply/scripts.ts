// The shell scripts apply runs on the host, built as pure functions of the plan so they can be read
// and tested without a host. Each runs as root through one exec over the run's one connection.
import { dirname } from 'node:path';
import { quote, quoteAll } from '../host/shell.js';
import type { FileChange, FileRemoval, Plan, Purge } from '../plan/plan.js';
import type { FileSpec } from '../render/types.js';
import { VMAIL } from '../render/vmail.js';
import type { Release } from '../config/model.js';
import { DATA_PATHS, daemonSpec, optionalDaemon, unitName, type Daemon } from '../services/index.js';

/** Where apply keeps its working state on the host. */
export const STATE_DIR = '/var/lib/mailrig';

/**
 * Installs packages without a question and without starting their daemons with the package's own
 * configuration (policy-rc.d says no); waits for another apt or dpkg to finish instead of failing.
 */
export function installScript(packages: string[]): string {
  return `set -e
export DEBIAN_FRONTEND=noninteractive
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
echo 'postfix postfix/mailname string localhost' | debconf-set-selections
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
if fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then echo 'mailrig: waiting for another apt or dpkg to finish…' >&2; fi
apt-get -q -o DPkg::Lock::Timeout=600 update
apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \\
  install --no-install-recommends ${quoteAll(packages)}
`;
}

/** The vmail user that owns every mailbox, and the directories the rendered configs expect. */
export function prepareScript(): string {
  return `set -e
getent group ${VMAIL.user} >/dev/null || groupadd --system --gid ${VMAIL.gid} ${VMAIL.user}
id -u ${VMAIL.user} >/dev/null 2>&1 || useradd --system --uid ${VMAIL.uid} --gid ${VMAIL.user} --home-dir ${VMAIL.home} --no-create-home --shell /usr/sbin/nologin ${VMAIL.user}
install -d -o ${VMAIL.user} -g ${VMAIL.user} -m 0750 ${VMAIL.home}
install -d -m 0700 ${STATE_DIR}
# DKIM keys: readable by rspamd only.
if getent group _rspamd >/dev/null; then install -d -o root -g _rspamd -m 0750 /var/lib/rspamd/dkim; fi
# Radicale's collections: Debian's package leaves the directory root's, its daemon runs as radicale.
if getent passwd radicale >/dev/null; then install -d -o radicale -g radicale -m 0750 /var/lib/radicale/collections; fi
# The logs fail2ban's jails read: fail2ban refuses a jail whose log file does not exist yet.
for f in /var/log/postfix.log /var/log/dovecot.log; do [ -e "$f" ] || install -m 0600 /dev/null "$f"; done
# Roundcube's (webmail: roundcube), which its jail reads: made as the package makes its log directory.
if [ -d /var/log/roundcube ] && [ ! -e /var/log/roundcube/userlogins.log ]; then install -o www-data -g adm -m 0640 /dev/null /var/log/roundcube/userlogins.log; fi
`;
}

function heredocFile(target: string, file: FileSpec): string {
  const data = Buffer.from(file.content, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n');
  return [
    `install -d -m 0755 ${quote(dirname(target))}`,
    `base64 -d > ${quote(target)} <<'MAILRIG_EOF'`,
    data,
    'MAILRIG_EOF',
    `chown ${quote(`${file.owner}:${file.group}`)} ${quote(target)}`,
    `chmod ${file.mode} ${quote(target)}`,
  ].join('\n');
}

/** Uploads every changed file under the run's staging directory, with its final mode and owner. */
export function stageScript(stage: string, changes: FileChange[]): string {
  const writes = changes.filter((c) => c.kind !== 'attributes').map((c) => heredocFile(`${stage}/files${c.file.path}`, c.file));
  return [`set -e`, `rm -rf ${quote(stage)}`, `install -d -m 0700 ${quote(stage)}/files`, ...writes, ''].join('\n');
}

/** The top-most directories holding changed or removed files: each is validated as a whole, staged over the live one. */
export function stagedDirs(changes: FileChange[], removals: FileRemoval[] = []): string[] {
  const paths = [...changes.filter((c) => c.kind !== 'attributes').map((c) => c.file.path), ...removals.map((r) => r.path)];
  const dirs = [...new Set(paths.map((p) => dirname(p)))].sort();
  return dirs.filter((d) => !dirs.some((other) => other !== d && d.startsWith(`${other}/`)));
}

/**
 * Validates the staged configuration with the daemons' own checks, exactly as it will land: in a
 * private mount namespace, each changed directory is replaced by a copy of the live one with the
 * staged files laid over it. The live system never sees the staged files.
 */
export function validateScript(stage: string, plan: Plan, daemons: Daemon[], other?: OtherRelease): string {
  const dirs = stagedDirs(plan.changes, plan.removals);
  const maps = plan.mapBuilds.map((f) => mapCommand(f)).join('\n');
  const checks = daemons.map((d) => `echo "== ${d}" >&2\n( ${daemonSpec(d).validate} ) || fail=1`).join('\n');
  const root = other ? `${stage}/root` : '';
  const validate = ['fail=0', maps ? `( ${maps.replace(/\n/g, ' && ')} ) || fail=1` : '', checks, 'exit $fail'].filter(Boolean).join('\n');
  const inner = [
    'set -e',
    ...(other ? otherRootMounts(stage, other.unpacked) : []),
    ...dirs.map((d) => `mount --bind ${quote(`${stage}/view${d}`)} ${quote(`${root}${d}`)}`),
    // Under another release the maps and checks run in its root: its binaries, its libraries.
    other ? `chroot ${quote(root)} /bin/sh -c ${quote(validate)}` : ['set +e', validate].join('\n'),
  ]
    .filter(Boolean)
    .join('\n');
  return [
    'set -e',
    `rm -rf ${quote(`${stage}/view`)}`,
    ...dirs.flatMap((d) => [
      `install -d -m 0755 ${quote(d)}`,
      `install -d ${quote(`${stage}/view${d}`)}`,
      `cp -a ${quote(d)}/. ${quote(`${stage}/view${d}`)}/`,
      // --remove-destination: a live file that is a symlink (/etc/resolv.conf often is) is replaced in
      // the copy, never written through to its target.
      `if [ -d ${quote(`${stage}/files${d}`)} ]; then cp -a --remove-destination ${quote(`${stage}/files${d}`)}/. ${quote(`${stage}/view${d}`)}/; fi`,
    ]),
    ...plan.removals.map((r) => `rm -f ${quote(`${stage}/view${r.path}`)}`),
    `unshare --mount --propagation private sh -c ${quote(inner)}`,
    '',
  ].join('\n');
}

/** Another release's binaries to validate with: its packages unpacked into one directory (upgrade/). */
export interface OtherRelease {
  unpacked: string;
}

/**
 * The mounts (in validateScript's private namespace) of a root where another release's unpacked
 * packages lie over the live system. Each entry of / gets an overlay (the packages above, the live
 * directory below, writes to a tmpfs) — per entry, because the unpacked directory itself lies
 * under / and overlayfs refuses a layer inside another; the branches holding it and the stage are
 * descended into, those two left out. /proc and /dev are mounted, /run and /tmp are empty. All of it vanishes
 * with the namespace.
 */
function otherRootMounts(stage: string, unpacked: string): string[] {
  const mirror = `mirror() {
  { ls -A "\${1:-/}"; [ -d "$U$1" ] && ls -A "$U$1"; } | sort -u | while IFS= read -r e; do
    p="$1/$e"
    case "$p" in
      /proc|/sys|/dev|/run|/tmp) mkdir -p "$R$p"; continue ;;
    esac
    if [ "$p" = "$U" ] || [ "$p" = "$S" ]; then continue; fi
    case "$U/ $S/" in "$p/"* | *" $p/"*) mkdir -p "$R$p"; mirror "$p"; continue ;; esac
    if [ -L "$p" ] || { [ ! -e "$p" ] && [ -L "$U$p" ]; }; then cp -P "$( [ -L "$p" ] && echo "$p" || echo "$U$p")" "$R$p"
    elif [ -d "$p" ] || [ -d "$U$p" ]; then
      l=$(mktemp -d "$W/layer.XXXXXX"); mkdir -p "$R$p" "$l/upper" "$l/work"
      lower="$p"; if [ -d "$U$p" ] && [ -d "$p" ]; then lower="$U$p:$p"; elif [ -d "$U$p" ]; then lower="$U$p"; fi
      mount -t overlay overlay -o "lowerdir=$lower,upperdir=$l/upper,workdir=$l/work" "$R$p"
    else cp -a "$( [ -e "$p" ] && echo "$p" || echo "$U$p")" "$R$p"
    fi
  done
}`;
  return [
    `S=${quote(stage)} R=${quote(`${stage}/root`)} W=${quote(`${stage}/rw`)} U=${quote(unpacked)}`,
    'install -d "$R" "$W"',
    'mount -t tmpfs -o mode=0755 tmpfs "$R"',
    'mount -t tmpfs -o mode=0700 tmpfs "$W"',
    mirror,
    'mirror ""',
    'mount -t proc proc "$R/proc"',
    'mount --rbind /dev "$R/dev"',
    'mount -t tmpfs tmpfs "$R/run"',
    'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"',
  ];
}

export function mapCommand(file: FileSpec): string {
  if (file.onChange === 'postalias') return `postalias ${quote(file.path)}`;
  const build = `postmap lmdb:${quote(file.path)}`;
  // A secret source's table is made under umask 077 (postmap would make it world-readable), then
  // given the source's owner and mode.
  return file.secret ? `( umask 077 && ${build} ) && chown ${file.owner}:${file.group} ${quote(`${file.path}.lmdb`)} && chmod ${file.mode} ${quote(`${file.path}.lmdb`)}` : build;
}

/**
 * Moves staged files into place, each by a rename in its own directory (atomic per file), after
 * keeping the previous version in the backup directory; removes the files no longer rendered (kept
 * there too); then rebuilds the maps that changed.
 */
export function swapScript(stage: string, backup: string, plan: Plan): string {
  const lines = ['set -e', `install -d -m 0700 ${quote(backup)}/files`, `: > ${quote(backup)}/created`];
  for (const c of plan.changes) {
    const path = quote(c.file.path);
    if (c.kind === 'attributes') {
      lines.push(`chown ${quote(`${c.file.owner}:${c.file.group}`)} ${path}`, `chmod ${c.file.mode} ${path}`);
      continue;
    }
    if (c.kind === 'update') {
      lines.push(`install -d -m 0700 ${quote(dirname(`${backup}/files${c.file.path}`))}`, `cp -a ${path} ${quote(`${backup}/files${c.file.path}`)}`);
    } else {
      lines.push(`echo ${path} >> ${quote(backup)}/created`);
    }
    const next = quote(`${c.file.path}.mailrig-new`);
    lines.push(
      `install -d -m 0755 ${quote(dirname(c.file.path))}`,
      `cp -a ${quote(`${stage}/files${c.file.path}`)} ${next}`,
      `mv -f ${next} ${path}`,
    );
  }
  for (const r of plan.removals) {
    const path = quote(r.path);
    lines.push(
      `if [ -e ${path} ]; then install -d -m 0700 ${quote(dirname(`${backup}/files${r.path}`))}; cp -a ${path} ${quote(`${backup}/files${r.path}`)}; rm -f ${path}; fi`,
    );
  }
  lines.push(...plan.mapBuilds.map(mapCommand), `rm -rf ${quote(stage)}`, '');
  return lines.join('\n');
}

/** Puts back what swapScript replaced and removes what it created, then rebuilds the maps. */
export function rollbackScript(backup: string, plan: Plan): string {
  return [
    'set -e',
    `if [ -d ${quote(backup)}/files ]; then cp -a ${quote(backup)}/files/. /; fi`,
    `if [ -f ${quote(backup)}/created ]; then while read -r f; do rm -f "$f"; done < ${quote(backup)}/created; fi`,
    ...plan.mapBuilds.map((f) => `[ -e ${quote(f.path)} ] && ${mapCommand(f)} || true`),
    '',
  ].join('\n');
}

/** Starts, reloads or restarts a daemon; its streams detached so the exec channel can close. */
export function serviceCommand(init: 'systemd' | 'sysv', daemon: Daemon, action: 'start' | 'reload' | 'restart' | 'stop', release?: Release): string {
  const spec = daemonSpec(daemon);
  const unit = unitName(spec, release);
  const onDemand = init === 'systemd' && action !== 'stop' ? spec.onDemandWithSystemd : undefined;
  if (onDemand) return `{ ${onDemand.start}; } </dev/null >/dev/null 2>&1 || { echo "starting ${onDemand.socket} failed" >&2; exit 1; }`;
  const cmd = init === 'systemd' ? systemctl(action, unit, optionalDaemon(daemon)) : sysvService(action, unit, optionalDaemon(daemon));
  const run = `${cmd} </dev/null >/dev/null 2>&1 || { echo "${cmd} failed" >&2; exit 1; }`;
  if (action !== 'reload' || !spec.reload) return run;
  return [spec.reload.before, run, spec.reload.after].join('\n');
}

/**
 * An optional daemon (one the config may switch off) is stopped and disabled when switched off, so
 * it is enabled again when it starts; the others are started as they are.
 */
function systemctl(action: 'start' | 'reload' | 'restart' | 'stop', unit: string, optional: boolean): string {
  if (optional && action === 'start') return `systemctl enable --now ${unit}`;
  if (action === 'stop') return `systemctl disable --now ${unit}`;
  return `systemctl ${action} ${unit}`;
}

function sysvService(action: 'start' | 'reload' | 'restart' | 'stop', unit: string, optional: boolean): string {
  if (optional && action === 'start') return `update-rc.d ${unit} enable && service ${unit} start`;
  if (action === 'stop') return `service ${unit} stop && update-rc.d ${unit} disable`;
  return `service ${unit} ${action}`;
}

/** What runs before apply starts or restarts a daemon, when its descriptor asks for something on this init. */
export function beforeStart(init: 'systemd' | 'sysv', daemon: Daemon): { message: string; script: string } | undefined {
  return init === 'sysv' ? daemonSpec(daemon).beforeStartWithoutSystemd : undefined;
}

/** What runs after apply started or restarted a daemon, when its descriptor asks for something on this init. */
export function afterStart(init: 'systemd' | 'sysv', daemon: Daemon): { message: string; script: string } | undefined {
  return init === 'systemd' ? daemonSpec(daemon).afterStartWithSystemd : undefined;
}

/** Whether a plan writes or removes files systemd reads (units, drop-ins): then it needs a daemon-reload. */
export function touchesSystemdUnits(plan: Plan): boolean {
  const paths = [...plan.changes.filter((c) => c.kind !== 'attributes').map((c) => c.file.path), ...plan.removals.map((r) => r.path)];
  return paths.some((p) => p.startsWith('/etc/systemd/system/'));
}

/** Succeeds once every expected port listens (waiting up to `seconds`); else lists the missing ones. */
export function healthScript(ports: number[], seconds = 30): string {
  return `missing=
for i in $(seq 1 ${seconds * 2}); do
  listening=$(ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -u)
  missing=
  for p in ${ports.join(' ')}; do echo "$listening" | grep -qx "$p" || missing="$missing $p"; done
  [ -z "$missing" ] && exit 0
  sleep 0.5
done
echo "not listening:$missing" >&2
exit 1
`;
}

/**
 * Deletes stored data: removed users' mail directories (only paths two levels below the vmail home
 * qualify) and optional services' data (only the paths their descriptors declare).
 */
export function purgeScript(purges: Purge[]): string {
  const safe = purges.filter((p) =>
    p.kind === 'mail' ? new RegExp(`^${VMAIL.home}/[^/]+/[^/]+$`).test(p.path) && !p.path.includes('..') : DATA_PATHS.includes(p.path),
  );
  return ['set -e', ...safe.map((p) => `rm -rf -- ${quote(p.path)}`), ''].join('\n');
}
