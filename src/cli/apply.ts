// mailrig plan and mailrig apply: the pipeline (pipeline/run.ts) up to the plan, shown; apply then
// has it confirmed and executed (pipeline/apply.ts) — over one connection for the whole run.
import { UsageError } from '../errors.js';
import type { Transport } from '../host/transport.js';
import { describeTask, formatPlan, keptLine, summarize } from '../plan/format.js';
import { routingLines } from '../render/relay.js';
import { isEmpty } from '../plan/plan.js';
import { checkKeyConflicts, executeRun } from '../pipeline/apply.js';
import { acmeEnabled } from '../tls/directory.js';
import { openTarget as pipelineTarget, type HostOptions } from '../pipeline/host.js';
import type { Project } from '../pipeline/project.js';
import { loadInputs, prepareRun, type PreparedRun } from '../pipeline/run.js';
import type { Config, Server } from '../config/model.js';
import { askYesNo } from './confirm.js';
import { progress } from './progress.js';

export type { HostOptions } from '../pipeline/host.js';

export interface ApplyOptions extends HostOptions {
  yes?: boolean;
  /** Print a JSON summary instead of the plan and progress (for scripts). */
  json?: boolean;
  /** Overwrite keys the host holds that differ from .mailrig's. */
  replaceHostKeys?: boolean;
  /** Accept the ACME CA's terms (Let's Encrypt's Subscriber Agreement) without asking. */
  acceptAcmeTerms?: boolean;
  /** Delete the stored data of optional services that mailrig.yaml switches off. */
  purge?: boolean;
  /** Only this host of the mail system (its name in mailrig.yaml). */
  host?: string;
}

/** The hosts a run covers: all of them, or the one --host names. */
export function selectServers(config: Config, name: string | undefined): Server[] {
  if (name === undefined) return config.servers;
  const server = config.servers.find((s) => s.name === name || s.hostname === name.toLowerCase());
  if (!server) throw new UsageError(`--host ${name}: no such host in mailrig.yaml (hosts: ${config.servers.map((s) => s.name).join(', ')})`);
  return [server];
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`mailrig: warning: ${line}\n`);

export async function confirm(message: string): Promise<boolean> {
  return askYesNo(message);
}

export async function openTransport(project: Project, opts: HostOptions): Promise<Transport> {
  return pipelineTarget(project.config.server.ssh, opts, confirm);
}

/** A transport to `user@host[:port]`, an ssh config alias, or "local". */
export async function openTarget(target: string, opts: Omit<HostOptions, 'config'>): Promise<Transport> {
  return pipelineTarget(target, opts, confirm);
}

export function showPlan(run: PreparedRun, brief: boolean): void {
  out(`${run.host.target}: ${run.facts.os.prettyName}`);
  // With relays, how mail leaves is a decision worth seeing before any diff.
  if (run.ctx.config.relay) out(`Outbound mail:\n${routingLines(run.ctx.config).map((l) => `  ${l}`).join('\n')}\n`);
  out(formatPlan(run.plan, { before: run.before, brief }));
}

/** The plan as data, for scripts: what would be installed, written and restarted. */
export function planJson(run: PreparedRun) {
  return {
    host: run.host.target,
    system: run.facts.os.prettyName,
    changes: !isEmpty(run.plan),
    install: run.plan.installs,
    files: run.plan.changes.map((c) => ({ path: c.file.path, change: c.kind, mode: c.file.mode, owner: c.file.owner, group: c.file.group })),
    maps: run.plan.mapBuilds.map((f) => f.path),
    remove: run.plan.removals.map((r) => r.path),
    purge: run.plan.purges.map((p) => ({ path: p.path, what: p.what })),
    // Data of switched-off services that only --purge deletes.
    kept: run.plan.kept.map((p) => ({ path: p.path, what: p.what })),
    services: run.plan.actions.map((a) => ({ service: a.daemon, action: a.action, because: a.because })),
    operations: run.plan.tasks.map((t) => ({ ...t, description: describeTask(t) })),
    routes: routingLines(run.ctx.config),
  };
}

export async function runPlan(opts: HostOptions & { json?: boolean; purge?: boolean; host?: string }): Promise<void> {
  const inputs = await loadInputs(opts.config);
  const servers = selectServers(inputs.project.config, opts.host);
  if (servers.length > 1 || servers[0]?.role !== 'primary') return (await import('./apply-hosts.js')).planHosts(inputs, servers, opts, confirm);
  const run = await prepareRun(opts, confirm, undefined, inputs);
  try {
    if (opts.json) out(JSON.stringify(planJson(run), null, 2));
    else showPlan(run, false);
  } finally {
    await run.host.close();
  }
}

export async function runApply(opts: ApplyOptions): Promise<void> {
  const quiet = opts.json === true;
  const common = {
    replaceHostKeys: opts.replaceHostKeys,
    acceptAcmeTerms: opts.acceptAcmeTerms,
    interactive: process.stdin.isTTY === true && !opts.yes,
    confirm,
    out: quiet ? () => undefined : out,
    warn,
  };
  const inputs = await loadInputs(opts.config);
  const servers = selectServers(inputs.project.config, opts.host);
  if (servers.length > 1 || servers[0]?.role !== 'primary') return (await import('./apply-hosts.js')).applyHosts(inputs, servers, opts, common);
  const run = await prepareRun(
    opts,
    confirm,
    async (project) => {
      if (acmeEnabled(project.config)) await (await import('../pipeline/acme.js')).acmeConsent(project, common);
    },
    inputs,
  );
  try {
    const { plan } = run;
    if (isEmpty(plan)) {
      out(`${run.host.target}: no changes; the host matches ${opts.config}.`);
      const kept = keptLine(plan);
      if (kept && !quiet) out(kept);
      return;
    }
    checkKeyConflicts(run, opts.replaceHostKeys);
    if (!quiet) showPlan(run, plan.changes.length > 20);
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UsageError('apply needs --yes when there is no terminal to confirm on');
      if (!(await confirm(`Apply these changes to ${run.host.target}?`))) {
        out('Nothing changed.');
        return;
      }
    }
    const started = Date.now();
    const steps = quiet ? { step: () => undefined, end: () => undefined } : progress();
    let result;
    try {
      result = await executeRun(run, { ...common, step: (m) => steps.step(m) });
      steps.end(true);
    } catch (e) {
      steps.end(false);
      throw e;
    }
    const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
    if (quiet) {
      out(JSON.stringify({ ...planJson(run), applied: true, done: result.actions, seconds }, null, 2));
      return;
    }
    out(`${run.host.target}: applied (${summarize(plan)}) in ${seconds}s`);
    for (const { task, output } of result.tasks) {
      if (task.kind === 'backup-repository' && output.includes('created')) out(`${run.host.target}: backup repository ${task.repository} created (restic init)`);
    }
    if (result.actions.length === 0) out('No service needed a reload.');
  } finally {
    await run.host.close();
  }
}
