// The one pipeline every command that looks at the host goes through:
//   load (mailrig.yaml + key store) → render → facts (one round trip) → plan
// and, for apply, pipeline/apply.ts executes exactly that plan. plan, apply, check, setup and every
// --apply flag share it, so they ask the host the same questions and see the same plan.
import { RuntimeError, UsageError } from '../errors.js';
import { factsScript, parseFacts, type Facts } from '../host/facts.js';
import { quote } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import { allMailboxes, forHost, isPrimary, MAILBOX_ROLES, standbyOf, type Server } from '../config/model.js';
import { isHostKeyLine } from '../host/hostkey.js';
import { recordHostKey } from '../keys/replication.js';
import { isEmailAddress } from '../config/syntax.js';
import { readPending } from '../keys/pending.js';
import { desiredState, MAIN_PROCESS, possiblePackages } from '../plan/desired.js';
import { ON_DEMAND_SOCKET } from '../services/index.js';
import { MANIFEST, manifestFile } from '../plan/manifest.js';
import { makePlan, sha256, type DesiredState, type Plan, type Purge, type Task } from '../plan/plan.js';
import { markerContent, REPOSITORY_MARKER } from '../backup/schedule.js';
import { AGENT_PATHS } from '../agent/install.js';
import type { FileSpec, RenderContext } from '../render/index.js';
import { mailHome, VMAIL } from '../render/vmail.js';
import { DATA_PATHS, render, SERVICES } from '../services/index.js';
import type { CertificateChoice } from '../tls/cert.js';
import { acmeEnabled, directoryUrl } from '../tls/directory.js';
import { consentRecorded } from '../tls/provision.js';
import { openTarget, type Confirm, type HostOptions } from './host.js';
import { loadProject, type Project } from './project.js';

/** load → keys → render: everything known before the host is asked. */
export interface Inputs {
  project: Project;
  ctx: RenderContext;
  files: FileSpec[];
}

export interface PreparedRun extends Inputs {
  host: Transport;
  facts: Facts;
  desired: DesiredState;
  plan: Plan;
  /** The host's current content of the files the plan updates (secrets excepted). */
  before: Map<string, string>;
  /** With ACME on: the certificate the host is to serve (see tls/provision.ts). */
  served?: CertificateChoice | undefined;
}

export async function loadInputs(configPath: string): Promise<Inputs> {
  const project = await loadProject(configPath);
  const ctx = { config: project.config, keys: project.keys, release: project.config.server.release };
  return { project, ctx, files: render(ctx) };
}

export async function connect(project: Project, opts: HostOptions, confirm?: Confirm): Promise<Transport> {
  return openTarget(project.config.server.ssh, opts, confirm);
}

/** The facts script for these inputs (a caller may run more sections in the same exec). */
export function factsScriptFor(inputs: Inputs): string {
  return factsScript({
    packages: possiblePackages(inputs.ctx),
    // The agent's files depend on the init system: both forms are asked about.
    paths: [...inputs.files.map((f) => f.path), ...(acmeEnabled(inputs.project.config) ? AGENT_PATHS : []), MANIFEST, REPOSITORY_MARKER],
    // cron runs the schedules where systemd is not PID 1.
    processes: { ...MAIN_PROCESS, cron: 'cron' },
    sockets: ON_DEMAND_SOCKET,
    users: [VMAIL.user],
    timers: SERVICES.flatMap((s) => (s.schedule ? [`${s.schedule.unit}.timer`] : [])),
    manifest: MANIFEST,
    data: [...DATA_PATHS],
  });
}

/** Runs the facts script (after `extra`, whose output the caller parses from `raw`). */
export async function readFacts(host: Transport, inputs: Inputs, extra = '', timeoutMs?: number): Promise<{ facts: Facts; raw: string }> {
  const script = [extra, factsScriptFor(inputs)].filter(Boolean).join('\n');
  const r = await host.exec('sh -s', { stdin: script, sudo: true, ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.code !== 0) {
    throw new RuntimeError(`${host.target}: reading the host's state failed (exit ${r.code})`, r.stderr.trim().split('\n').slice(-5).join('\n'));
  }
  return { facts: parseFacts(r.stdout), raw: r.stdout };
}

export function checkRelease(project: Project, host: Transport, facts: Facts): void {
  const want = project.config.server.release;
  if (facts.release === undefined) {
    throw new RuntimeError(
      `${host.target} runs ${facts.os.prettyName}; mailrig supports Debian 12 (bookworm) and Debian 13 (trixie)`,
    );
  }
  if (facts.release !== want) {
    const field = project.config.server.role === 'primary' ? 'server.release' : `servers.${project.config.servers.indexOf(project.config.server) - 1}.release`;
    throw new UsageError(
      `${project.configPath}: ${field} is ${want}, but ${host.target} runs ${facts.os.prettyName} (${facts.release}); set ${field}: ${facts.release}`,
    );
  }
}

/** The mail directories of removed users whose mail the operator asked to delete, and who are still gone. */
export function purgesOf(project: Project): Purge[] {
  const current = new Set(allMailboxes(project.config).map((m) => m.address));
  return readPending(project.configPath)
    .purge.filter((p) => isEmailAddress(p.address) && !current.has(p.address))
    .map((p) => ({ kind: 'mail', path: mailHome(p.address), what: p.address }));
}

/** What a run asks beyond the host: `purge` deletes the stored data of optional services that are off. */
export interface RunOptions {
  purge?: boolean;
}

/**
 * Facts → desired state → plan. `diffs`: also fetch the current content of updated files; `purge`:
 * plan to delete the data of switched-off optional services.
 */
export async function planRun(inputs: Inputs, host: Transport, facts: Facts, opts: { diffs: boolean } & RunOptions): Promise<PreparedRun> {
  const { project } = inputs;
  const { config } = project;
  const files = [...inputs.files];
  const tasks: Task[] = [];
  // With ACME (and the CA's terms accepted): the renewal agent, a valid CA-issued certificate on the host stays, a due one is requested.
  let served: CertificateChoice | undefined;
  if (isPrimary(config) && acmeEnabled(config) && consentRecorded(project)) {
    const acme = await import('./acme.js');
    files.push(...(await acme.agentFileSpecs(project, facts.init)));
    served = await (await import('../tls/provision.js')).adoptServedCertificate(project, host, facts, files);
    const due = acme.issuanceDue(project, served);
    if (due.renew) tasks.push({ kind: 'certificate', directoryUrl: directoryUrl(config.tls.acme) ?? '', reason: due.message });
  }
  if (isPrimary(config) && config.backup && facts.files[REPOSITORY_MARKER]?.sha256 !== sha256(markerContent(config.backup.repository))) {
    tasks.push({ kind: 'backup-repository', repository: config.backup.repository });
  }
  files.push(manifestFile(files));
  const desired = { ...desiredState(inputs.ctx, facts.init, files), purges: isPrimary(config) ? purgesOf(project) : [], purgeData: opts.purge === true, tasks };
  // The current content of changed files serves the diffs, and tells a reload from a restart.
  const before = opts.diffs ? await currentContents(host, makePlan(desired, facts)) : new Map<string, string>();
  return { ...inputs, host, facts, desired, plan: makePlan(desired, facts, before), before, served };
}

/**
 * Everything up to the plan, over one connection the caller closes (run.host.close()). `beforePlan`
 * runs once the project is loaded (apply asks for the ACME CA's terms there).
 */
export async function prepareRun(
  opts: HostOptions & RunOptions,
  confirm?: Confirm,
  beforePlan?: (project: Project) => Promise<void>,
  loaded?: Inputs,
): Promise<PreparedRun> {
  const inputs = loaded ?? (await loadInputs(opts.config));
  await beforePlan?.(inputs.project);
  const host = await connect(inputs.project, opts, confirm);
  try {
    const { facts } = await readFacts(host, inputs);
    checkRelease(inputs.project, host, facts);
    return await planRun(inputs, host, facts, { diffs: true, purge: opts.purge === true });
  } catch (e) {
    await host.close();
    throw e;
  }
}

/** Current content of the files a plan updates, for diffs; secrets are never fetched. */
async function currentContents(host: Transport, plan: Plan): Promise<Map<string, string>> {
  const paths = plan.changes.filter((c) => c.kind === 'update' && !c.file.secret).map((c) => c.file.path);
  const result = new Map<string, string>();
  if (!paths.length) return result;
  const script = paths.map((p) => `printf '%s\\n' ${quote(p)}; base64 -w0 ${quote(p)}; echo`).join('\n');
  const r = await host.exec('sh -s', { stdin: script, sudo: true });
  const lines = r.stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    result.set(lines[i] ?? '', Buffer.from(lines[i + 1] ?? '', 'base64').toString('utf8'));
  }
  return result;
}

/** The inputs of one host of the mail system: the same project and keys, rendered for that host. */
export function hostInputs(inputs: Inputs, name: string): Inputs {
  const config = forHost(inputs.project.config, name);
  if (config === inputs.project.config) return inputs;
  const ctx = { config, keys: inputs.project.keys, release: config.server.release };
  return { project: { ...inputs.project, config }, ctx, files: render(ctx) };
}

/** One host's part of a run over several: its prepared run, or why it could not be prepared. */
export type HostRun = { server: Server; run: PreparedRun; error?: undefined } | { server: Server; run?: undefined; error: unknown };

/**
 * Everything up to the plan on each of `servers`, in parallel, each over its own connection (the
 * caller closes those of the prepared runs). A host that cannot be reached or read is reported in
 * its entry; the others are prepared all the same.
 */
export async function prepareRuns(inputs: Inputs, servers: Server[], opts: HostOptions & RunOptions, confirm?: Confirm): Promise<HostRun[]> {
  const opened = await Promise.all(
    servers.map(async (server): Promise<{ server: Server; host?: Transport; error?: unknown }> => {
      try {
        return { server, host: await openTarget(server.ssh, opts, confirm) };
      } catch (error) {
        return { server, error };
      }
    }),
  );
  const pinned = pinStandbyHostKey(inputs, opened);
  return Promise.all(
    opened.map(async ({ server, host, error }): Promise<HostRun> => {
      if (!host) return { server, error };
      const mine = hostInputs(pinned, server.name);
      try {
        const { facts } = await readFacts(host, mine);
        checkRelease(mine.project, host, facts);
        return { server, run: await planRun(mine, host, facts, { diffs: true, purge: opts.purge === true }) };
      } catch (error) {
        await host.close().catch(() => undefined);
        return { server, error };
      }
    }),
  );
}

/**
 * The SSH host keys of the hosts that hold the mailboxes, as mailrig found them this run (each
 * transport checked its key against the operator's known_hosts), recorded in the key store: the
 * primary pins the standby's for replication (and after a failover, the old primary's, even when it
 * is down then). When the standby's is new, the inputs are rendered again with it.
 */
function pinStandbyHostKey(inputs: Inputs, opened: Array<{ server: Server; host?: Transport }>): Inputs {
  const { keys, config } = inputs.project;
  if (!keys.replication) return inputs;
  for (const { server, host } of opened) {
    if (MAILBOX_ROLES.includes(server.role) && host?.hostKey !== undefined && isHostKeyLine(host.hostKey)) recordHostKey(keys.dir, server.name, host.hostKey);
  }
  const standby = standbyOf(config);
  const found = opened.find((o) => o.server.name === standby?.name)?.host?.hostKey;
  if (found === undefined || !isHostKeyLine(found) || found === keys.replication.standbyHostKey) return inputs;
  const pinned = { ...keys, replication: { ...keys.replication, standbyHostKey: found } };
  const ctx = { ...inputs.ctx, keys: pinned };
  return { project: { ...inputs.project, keys: pinned }, ctx, files: render(ctx) };
}
