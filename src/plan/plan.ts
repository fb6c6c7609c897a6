// Desired state + host facts → the plan: what to install, which files to write, which maps to
// rebuild and which services to reload, restart or start, each with the files that cause it. Pure.
import { createHash } from 'node:crypto';
import type { Facts } from '../host/facts.js';
import type { FileSpec } from '../render/types.js';
import { DAEMONS, TLS_CONSUMERS, type Daemon } from '../services/index.js';

export { DAEMONS, TLS_CONSUMERS, type Daemon } from '../services/index.js';

export interface DesiredState {
  packages: string[];
  files: FileSpec[];
  daemons: readonly Daemon[];
  /** Mail directories of removed users whose stored mail the operator asked to delete (user rm --purge). */
  purges?: string[];
}

export interface FileChange {
  file: FileSpec;
  /** create: absent on the host; update: content differs; attributes: only mode or owner differ. */
  kind: 'create' | 'update' | 'attributes';
  before: Facts['files'][string] | undefined;
}

export interface ServiceAction {
  daemon: Daemon;
  /** start: not running; restart: a file that needs it changed; reload: otherwise. */
  action: 'start' | 'restart' | 'reload';
  /** The changed files that cause it (empty for a start of a daemon that is down). */
  because: string[];
}

export interface Plan {
  installs: string[];
  changes: FileChange[];
  /** Map sources whose lookup tables must be rebuilt (postmap / postalias), in path order. */
  mapBuilds: FileSpec[];
  actions: ServiceAction[];
  /** Mail directories to delete. */
  purges: string[];
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

/** `before` holds the host's current content of updated files where known (never of secrets). */
export function makePlan(desired: DesiredState, facts: Facts, before: Map<string, string> = new Map()): Plan {
  const installs = desired.packages.filter((p) => facts.packages[p] === undefined);
  const changes = desired.files.map((f) => fileChange(f, facts)).filter((c): c is FileChange => c !== undefined);
  const mapBuilds = changes
    .filter((c) => c.kind !== 'attributes' && (c.file.onChange === 'postmap' || c.file.onChange === 'postalias'))
    .map((c) => c.file);

  const byDaemon = new Map<Daemon, ServiceAction>();
  for (const change of changes) {
    for (const { daemon, action } of effects(change, before.get(change.file.path))) {
      if (!desired.daemons.includes(daemon)) continue;
      const current = byDaemon.get(daemon) ?? { daemon, action, because: [] };
      if (action === 'restart') current.action = 'restart';
      current.because.push(change.file.path);
      byDaemon.set(daemon, current);
    }
  }
  for (const daemon of desired.daemons) {
    if (facts.services[daemon] === undefined) {
      const current = byDaemon.get(daemon);
      byDaemon.set(daemon, { daemon, action: 'start', because: current?.because ?? [] });
    }
  }
  const actions = DAEMONS.map((d) => byDaemon.get(d)).filter((a): a is ServiceAction => a !== undefined);
  return { installs, changes, mapBuilds, actions, purges: desired.purges ?? [] };
}

export function isEmpty(plan: Plan): boolean {
  return plan.installs.length === 0 && plan.changes.length === 0 && plan.actions.length === 0 && plan.purges.length === 0;
}
