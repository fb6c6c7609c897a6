// What the host is like, learned in one round trip: one shell script prints a section per fact, and
// one parser per section reads it (each tested on output recorded from real hosts).
import type { Release } from '../config/model.js';
import { readSections, sectionHeader } from './sections.js';
import { quote, quoteAll } from './shell.js';

export interface FileFact {
  sha256: string;
  /** Octal, four digits, e.g. "0640". */
  mode: string;
  owner: string;
  group: string;
}

export interface Facts {
  os: { id: string; versionId: string; codename: string; prettyName: string };
  /** The release in mailrig's terms, when it is one mailrig supports. */
  release: Release | undefined;
  init: 'systemd' | 'sysv';
  /** Installed packages among those asked about → version. */
  packages: Record<string, string>;
  /** Managed paths that exist → their state. */
  files: Record<string, FileFact>;
  /**
   * Daemons → the pid of their main process, or undefined when not running. 0 for a daemon that runs
   * on demand where systemd is PID 1 and whose socket unit is enabled and listening (its process
   * may or may not run at the moment).
   */
  services: Record<string, number | undefined>;
  /** Users that exist among those asked about. */
  users: string[];
  /** systemd timers among those asked about that are enabled and active (none where systemd is not PID 1). */
  timers: string[];
  /** The lines of the manifest of managed files (see plan/manifest.ts) whose file still exists. */
  managed: string[];
  /** Stored data paths (of optional services) among those asked about that exist. */
  data: string[];
}

export interface FactsQuery {
  packages: string[];
  paths: string[];
  /** service → the exact command name (comm) of its main process. */
  processes: Record<string, string>;
  /** service → the socket unit that holds it where systemd is PID 1 (a daemon that runs on demand). */
  sockets?: Record<string, string>;
  users: string[];
  /** Timer units (e.g. mailrig-backup.timer) to ask about. */
  timers?: string[];
  /** A manifest file of tab-separated lines whose first field is a path. */
  manifest?: string;
  /** Data paths whose existence to report. */
  data?: string[];
}

/** The one script that gathers every fact; it must run as root (file hashes of private keys). */
export function factsScript(q: FactsQuery): string {
  const pid = (service: string, comm: string) => {
    const socket = q.sockets?.[service];
    const running = `pgrep -o -x '${comm}'`;
    if (socket === undefined) return running;
    const listening = `systemctl is-enabled --quiet ${socket} && systemctl is-active --quiet ${socket} && echo 0`;
    return `if [ -d /run/systemd/system ]; then ${listening}; else ${running}; fi`;
  };
  const procs = Object.entries(q.processes)
    .map(([service, comm]) => `printf '%s\\t%s\\n' ${service} "$(${pid(service, comm)} || true)"`)
    .join('\n');
  const s = (name: string) => `echo '${sectionHeader('facts', name)}'`;
  return [
    'export LC_ALL=C',
    `${s('os')}; cat /etc/os-release 2>/dev/null`,
    `${s('init')}; if [ -d /run/systemd/system ]; then echo systemd; else echo sysv; fi`,
    `${s('packages')}; dpkg-query -W -f='\${Package}\\t\${Version}\\t\${db:Status-Abbrev}\\n' ${quoteAll(q.packages)} 2>/dev/null || true`,
    `${s('stat')}; stat -c '%n\t%a\t%U\t%G' ${quoteAll(q.paths)} 2>/dev/null || true`,
    `${s('sha256')}; sha256sum ${quoteAll(q.paths)} 2>/dev/null || true`,
    `${s('processes')}`,
    procs,
    `${s('users')}; for u in ${quoteAll(q.users)}; do id -u "$u" >/dev/null 2>&1 && echo "$u"; done; true`,
    `${s('timers')}; if [ -d /run/systemd/system ]; then for t in ${quoteAll(q.timers ?? [])}; do systemctl is-enabled --quiet "$t" 2>/dev/null && systemctl is-active --quiet "$t" 2>/dev/null && echo "$t"; done; fi; true`,
    q.manifest
      ? `${s('managed')}; if [ -f ${quote(q.manifest)} ]; then while IFS= read -r line; do [ -e "\${line%%	*}" ] && printf '%s\n' "$line"; done < ${quote(q.manifest)}; fi; true`
      : '',
    `${s('data')}; for p in ${quoteAll(q.data ?? [])}; do [ -e "$p" ] && echo "$p"; done; true`,
    '',
  ].join('\n');
}

export function parseOsRelease(lines: string[]): Facts['os'] {
  const kv = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) kv.set(m[1] ?? '', (m[2] ?? '').replace(/^"(.*)"$/, '$1'));
  }
  return {
    id: kv.get('ID') ?? '',
    versionId: kv.get('VERSION_ID') ?? '',
    codename: kv.get('VERSION_CODENAME') ?? '',
    prettyName: kv.get('PRETTY_NAME') ?? 'an unknown system',
  };
}

export function releaseOf(os: Facts['os']): Release | undefined {
  if (os.id !== 'debian') return undefined;
  if (os.versionId === '12' || os.codename === 'bookworm') return 'debian-12';
  if (os.versionId === '13' || os.codename === 'trixie') return 'debian-13';
  return undefined;
}

/** dpkg-query lines "name\tversion\tii " → installed packages only. */
export function parsePackages(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.startsWith('ii')) out[name] = version;
  }
  return out;
}

export function parseFiles(statLines: string[], shaLines: string[]): Record<string, FileFact> {
  const hashes = new Map<string, string>();
  for (const line of shaLines) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) hashes.set(m[2] ?? '', m[1] ?? '');
  }
  const out: Record<string, FileFact> = {};
  for (const line of statLines) {
    const [path, mode, owner, group] = line.split('\t');
    if (!path || !mode || !owner || !group) continue;
    out[path] = { sha256: hashes.get(path) ?? '', mode: mode.padStart(4, '0'), owner, group };
  }
  return out;
}

export function parseProcesses(lines: string[]): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const line of lines) {
    const [service, pid] = line.split('\t');
    if (service) out[service] = pid && /^\d+$/.test(pid) ? Number(pid) : undefined;
  }
  return out;
}

export function parseFacts(output: string): Facts {
  const s = readSections(output, 'facts');
  const os = parseOsRelease(s.get('os') ?? []);
  return {
    os,
    release: releaseOf(os),
    init: s.get('init')?.[0] === 'systemd' ? 'systemd' : 'sysv',
    packages: parsePackages(s.get('packages') ?? []),
    files: parseFiles(s.get('stat') ?? [], s.get('sha256') ?? []),
    services: parseProcesses(s.get('processes') ?? []),
    users: s.get('users') ?? [],
    timers: s.get('timers') ?? [],
    managed: s.get('managed') ?? [],
    data: s.get('data') ?? [],
  };
}
