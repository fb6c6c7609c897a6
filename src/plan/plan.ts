// Desired state + host facts → the plan: every change apply makes, and nothing else — packages to
// install, files to write or remove, maps to rebuild, schedules to enable or disable, services to
// reload, restart or start (each with the files that cause it), and the pipeline's own operations
// (a certificate, the backup repository, purges of stored data). Pure.
import { createHash } from 'node:crypto';
import type { Facts } from '../host/facts.js';
import type { FileSpec, OnChange } from '../render/types.js';
import { DAEMONS, optionalDaemon, SERVICES, TLS_CONSUMERS, type Daemon } from '../services/index.js';
import { parseManifest } from './manifest.js';

export { DAEMONS, TLS_CONSUMERS, type Daemon } from '../services/index.js';

export interface DesiredState {
  packages: string[];
  files: FileSpec[];
  daemons: readonly Daemon[];
  /** Mail directories of removed users whose stored mail the operator asked to delete (user rm --purge). */
  purges?: Purge[];
  /** The stored data of the optional services the config switches off (deleted only with `purgeData`). */
  dataOff?: Purge[];
  /** The operator asked to delete the data of switched-off services (apply --purge). */
  purgeData?: boolean;
  /** Operations the pipeline decided from the facts (a certificate, the backup repository). */
  tasks?: Task[];
}

/**
 * Stored data apply deletes, a directory and what it holds: a removed user's mail (user rm --purge),
 * or the data of an optional service the config switched off (apply --purge).
 */
export interface Purge {
  kind: 'mail' | 'service-data';
  path: string;
  /** The user's address, or the service's name and what the data is. */
  what: string;
}

/** A file mailrig managed (the host's manifest says so) and no longer renders. */
export interface FileRemoval {
  path: string;
  service: string;
  onChange: OnChange;
}

/** The operations beyond files, packages and services, in the order apply runs them. */
export type Task =
  /** systemd: enable and start <unit>.timer (after a daemon-reload), or stop and disable it; sysv: make cron run. */
  | { kind: 'schedule'; action: 'enable' | 'disable'; unit: string; init: 'systemd' | 'sysv'; because: string }
  /** Open the restic repository, create it when missing, and record it on the host. */
  | { kind: 'backup-repository'; repository: string }
  /** Request a certificate from the ACME CA for the current key and install it. */
  | { kind: 'certificate'; directoryUrl: string; reason: string };

export interface FileChange {
  file: FileSpec;
  /** create: absent on the host; update: content differs; attributes: only mode or owner differ. */
  kind: 'create' | 'update' | 'attributes';
  before: Facts['files'][string] | undefined;
}

export interface ServiceAction {
  daemon: Daemon;
  /**
   * start: not running; restart: a file that needs it changed; reload: otherwise; stop: an optional
   * daemon the config switched off that still runs (stopped and kept from starting at boot; its
   * files this plan removes are the `because`, its data stays).
   */
  action: 'start' | 'restart' | 'reload' | 'stop';
  /** The changed files that cause it (empty for a start of a daemon that is down). */
  because: string[];
}

export interface Plan {
  installs: string[];
  changes: FileChange[];
  /** Map sources whose lookup tables must be rebuilt (postmap / postalias), in path order. */
  mapBuilds: FileSpec[];
  actions: ServiceAction[];
  /** Files mailrig managed and no longer renders: removed, their old copy kept with the run's backup. */
  removals: FileRemoval[];
  tasks: Task[];
  /** Stored data to delete. */
  purges: Purge[];
  /**
   * Data of switched-off services that the host still holds and this plan keeps (no --purge was
   * given): not an operation, only what `--purge` would delete.
   */
  kept: Purge[];
}

export function sha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

function fileChange(file: FileSpec, facts: Facts): FileChange | undefined {
  const before = facts.files[file.path];
  if (!before) return { file, kind: 'create', before };
  if (before.sha256 !== sha256(file.content)) return { file, kind: 'update', before };
  if (before.mode !== file.mode || before.owner !== file.owner || before.group !== file.group) {
    return { file, kind: 'attributes', before };
  }
  return undefined;
}

/** The value lines of the named settings (`name = value`), to tell whether any of them changed. */
function settingLines(content: string, names: string[]): string {
  return content
    .split('\n')
    .filter((l) => names.some((n) => new RegExp(`^\\s*${n}\\s*=`).test(l)))
    .join('\n');
}

function actionFor(change: FileChange, before: string | undefined): 'restart' | 'reload' {
  const { file } = change;
  if (file.onChange !== 'reload' || !file.restartWhen?.length || change.kind === 'create') return file.onChange === 'restart' ? 'restart' : 'reload';
  if (before === undefined) return 'restart';
  return settingLines(before, file.restartWhen) === settingLines(file.content, file.restartWhen) ? 'reload' : 'restart';
}

/** The daemons a changed file affects, and how. */
function effects(change: FileChange, before: string | undefined): Array<{ daemon: Daemon; action: 'restart' | 'reload' }> {
  const { file } = change;
  if (change.kind === 'attributes' || file.onChange === 'none') return [];
  if (file.onChange === 'postmap' || file.onChange === 'postalias') return []; // Postfix rereads rebuilt maps by itself
  if (file.service === 'mailrig') return TLS_CONSUMERS.map((daemon) => ({ daemon, action: 'reload' as const }));
  return [{ daemon: file.service, action: actionFor(change, before) }];
}

/** The daemons a removed file affects: as a change to it would. */
function removalEffects(r: FileRemoval): Array<{ daemon: Daemon; action: 'restart' | 'reload' }> {
  if (r.onChange === 'none' || r.onChange === 'postmap' || r.onChange === 'postalias') return [];
  if (r.service === 'mailrig') return TLS_CONSUMERS.map((daemon) => ({ daemon, action: 'reload' as const }));
  return [{ daemon: r.service, action: r.onChange === 'restart' ? 'restart' : 'reload' }];
}

const unitFiles = (unit: string) => [`/etc/systemd/system/${unit}.service`, `/etc/systemd/system/${unit}.timer`];

/**
 * Each scheduled service's timer: enabled while the service renders files (systemd: when its units
 * changed or it is not active; elsewhere cron must run), disabled once they are gone.
 */
function scheduleTasks(desired: DesiredState, facts: Facts, changes: FileChange[], removals: FileRemoval[]): Task[] {
  const tasks: Task[] = [];
  for (const s of SERVICES) {
    if (!s.schedule) continue;
    const { unit } = s.schedule;
    const units = unitFiles(unit);
    const timer = `${unit}.timer`;
    if (desired.files.some((f) => f.service === s.name)) {
      if (facts.init === 'systemd') {
        const changed = changes.some((c) => c.kind !== 'attributes' && units.includes(c.file.path));
        if (changed || !facts.timers.includes(timer)) {
          tasks.push({ kind: 'schedule', action: 'enable', unit, init: 'systemd', because: changed ? 'its units changed' : 'the timer is not active' });
        }
      } else if (facts.services['cron'] === undefined) {
        tasks.push({ kind: 'schedule', action: 'enable', unit, init: 'sysv', because: 'cron is not running' });
      }
    } else if (facts.init === 'systemd' && (facts.timers.includes(timer) || removals.some((r) => units.includes(r.path)))) {
      tasks.push({ kind: 'schedule', action: 'disable', unit, init: 'systemd', because: `${s.name} is no longer configured` });
    }
  }
  return tasks;
}

/** `before` holds the host's current content of updated files where known (never of secrets). */
export function makePlan(desired: DesiredState, facts: Facts, before: Map<string, string> = new Map()): Plan {
  const installs = desired.packages.filter((p) => facts.packages[p] === undefined);
  const changes = desired.files.map((f) => fileChange(f, facts)).filter((c): c is FileChange => c !== undefined);
  const mapBuilds = changes
    .filter((c) => c.kind !== 'attributes' && (c.file.onChange === 'postmap' || c.file.onChange === 'postalias'))
    .map((c) => c.file);

  const rendered = new Set(desired.files.map((f) => f.path));
  const removals = parseManifest(facts.managed).filter((m) => !rendered.has(m.path));

  const byDaemon = new Map<Daemon, ServiceAction>();
  const affect = (daemon: Daemon, action: 'restart' | 'reload', path: string) => {
    if (!desired.daemons.includes(daemon)) return;
    const current = byDaemon.get(daemon) ?? { daemon, action, because: [] };
    if (action === 'restart') current.action = 'restart';
    current.because.push(path);
    byDaemon.set(daemon, current);
  };
  for (const r of removals) for (const { daemon, action } of removalEffects(r)) affect(daemon, action, r.path);
  for (const change of changes) {
    for (const { daemon, action } of effects(change, before.get(change.file.path))) affect(daemon, action, change.file.path);
  }
  for (const daemon of DAEMONS) {
    if (desired.daemons.includes(daemon) || facts.services[daemon] === undefined || !optionalDaemon(daemon)) continue;
    byDaemon.set(daemon, { daemon, action: 'stop', because: removals.filter((r) => r.service === daemon).map((r) => r.path) });
  }
  for (const daemon of desired.daemons) {
    if (facts.services[daemon] === undefined) {
      const current = byDaemon.get(daemon);
      byDaemon.set(daemon, { daemon, action: 'start', because: current?.because ?? [] });
    }
  }
  const actions = DAEMONS.map((d) => byDaemon.get(d)).filter((a): a is ServiceAction => a !== undefined);
  const tasks = [...scheduleTasks(desired, facts, changes, removals), ...(desired.tasks ?? [])];
  const dataOnHost = (desired.dataOff ?? []).filter((d) => facts.data.includes(d.path));
  const purges = [...(desired.purges ?? []), ...(desired.purgeData ? dataOnHost : [])];
  return { installs, changes, mapBuilds, actions, removals, tasks, purges, kept: desired.purgeData ? [] : dataOnHost };
}

export function isEmpty(plan: Plan): boolean {
  return (
    plan.installs.length === 0 &&
    plan.changes.length === 0 &&
    plan.removals.length === 0 &&
    plan.actions.length === 0 &&
    plan.tasks.length === 0 &&
    plan.purges.length === 0
  );
}
