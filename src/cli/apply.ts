// mailrig plan and mailrig apply: render, learn the host's facts in one round trip, diff, and (for
// apply) execute — over one connection for the whole run.
import { randomBytes } from 'node:crypto';
import { RuntimeError, UsageError } from '../errors.js';
import { executePlan } from '../apply/apply.js';
import { factsScript, parseFacts, type Facts } from '../host/facts.js';
import type { HostKeyQuestion } from '../host/knownhosts.js';
import { quote } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import { desiredState, MAIN_PROCESS, portsFor } from '../plan/desired.js';
import { formatPlan, summarize } from '../plan/format.js';
import { isEmpty, makePlan, type DesiredState, type Plan } from '../plan/plan.js';
import { acmeEnabled } from '../tls/directory.js';
import type { CertificateChoice } from '../tls/cert.js';
import { askYesNo } from './confirm.js';
import { progress } from './progress.js';
import { loadProject, type Project } from './project.js';
import { allMailboxes } from '../config/model.js';
import { isEmailAddress } from '../config/syntax.js';
import { VMAIL } from '../apply/scripts.js';
import { readPending, writePending } from '../keys/pending.js';

export interface HostOptions {
  config: string;
  /** Accept an unknown host key without asking (it is then recorded in known_hosts). */
  acceptNewHostKey?: boolean;
  /** Private key to log in with, before the ssh config's and the defaults. */
  identity?: string;
  /** known_hosts file to check and record host keys in (default: the ssh config's, else ~/.ssh/known_hosts). */
  knownHosts?: string;
}

export interface ApplyOptions extends HostOptions {
  yes?: boolean;
  /** Print a JSON summary instead of the plan and progress (for scripts). */
  json?: boolean;
  /** Overwrite keys the host holds that differ from .mailrig's. */
  replaceHostKeys?: boolean;
  /** Accept the ACME CA's terms (Let's Encrypt's Subscriber Agreement) without asking. */
  acceptAcmeTerms?: boolean;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

async function confirm(message: string): Promise<boolean> {
  return askYesNo(message);
}

export async function openTransport(project: Project, opts: HostOptions): Promise<Transport> {
  return openTarget(project.config.server.ssh, opts);
}

/** A transport to `user@host[:port]`, an ssh config alias, or "local". */
export async function openTarget(target: string, opts: Omit<HostOptions, 'config'>): Promise<Transport> {
  if (target === 'local') {
    const { LocalTransport } = await import('../host/local.js');
    return LocalTransport.open();
  }
  const { connectSsh } = await import('../host/ssh.js');
  return connectSsh({
    target,
    ...(opts.identity ? { identityFiles: [opts.identity] } : {}),
    ...(opts.knownHosts ? { knownHostsFile: opts.knownHosts } : {}),
    confirmHostKey: async (q: HostKeyQuestion) => {
      if (opts.acceptNewHostKey) return true;
      if (!process.stdin.isTTY) return false;
      return confirm(`${q.host} is not in known_hosts; its ${q.keyType} key is ${q.fingerprint}. Trust it?`);
    },
  });
}

export interface PreparedRun {
  project: Project;
  host: Transport;
  facts: Facts;
  desired: DesiredState;
  plan: Plan;
  /** The host's current content of the files the plan updates (secrets excepted). */
  before: Map<string, string>;
  /** With ACME on: the certificate the host is to serve (see tls/provision.ts). */
  served?: CertificateChoice | undefined;
}

/** Where Dovecot keeps an address's mail (mail_home in the rendered dovecot.conf). */
const mailDir = (address: string) =>
  `${VMAIL.home}/${address.slice(address.lastIndexOf('@') + 1)}/${address.slice(0, address.lastIndexOf('@'))}`;

/** The mail directories of removed users whose mail the operator asked to delete, and who are still gone. */
function purgesOf(project: Project): string[] {
  const current = new Set(allMailboxes(project.config).map((m) => m.address));
  return readPending(project.configPath)
    .purge.filter((p) => isEmailAddress(p.address) && !current.has(p.address))
    .map((p) => mailDir(p.address));
}

/** Forgets the purges an apply has done. */
function clearPurges(project: Project, done: string[]): void {
  if (!done.length) return;
  const pending = readPending(project.configPath);
  const gone = new Set(done);
  writePending(project.configPath, { ...pending, purge: pending.purge.filter((p) => !gone.has(mailDir(p.address))) });
}

/** Everything up to the plan: load, render, connect, facts (one round trip), diff. */
export async function prepareRun(opts: HostOptions): Promise<PreparedRun> {
  const project = await loadProject(opts.config);
  const desired = {
    ...desiredState({ config: project.config, keys: project.keys, release: project.config.server.release }),
    purges: purgesOf(project),
  };
  const host = await openTransport(project, opts);
  try {
    const facts = await gatherFacts(host, desired);
    checkRelease(project, host, facts);
    // TLS (issue 6): the renewal agent's packages, and a valid CA-issued certificate on the host stays.
    let served: CertificateChoice | undefined;
    if (acmeEnabled(project.config)) {
      const tls = await import('../tls/provision.js');
      desired.packages.push(...tls.agentPackages(project.config, facts));
      served = await tls.adoptServedCertificate(project, host, facts, desired);
    }
    // Backups (issue 9): cron runs the schedule where systemd is not PID 1.
    if (project.config.backup && facts.init === 'sysv' && !desired.packages.includes('cron')) desired.packages.push('cron');
    // The current content of changed files serves the diffs, and tells a reload from a restart.
    const before = await currentContents(host, makePlan(desired, facts));
    return { project, host, facts, desired, plan: makePlan(desired, facts, before), before, served };
  } catch (e) {
    await host.close();
    throw e;
  }
}

async function gatherFacts(host: Transport, desired: DesiredState): Promise<Facts> {
  const script = factsScript({
    // cron: installed for the renewal agent where systemd is not PID 1 (tls/provision.ts).
    packages: [...desired.packages, 'cron'],
    paths: desired.files.map((f) => f.path),
    processes: MAIN_PROCESS,
    users: ['vmail'],
  });
  const r = await host.exec('sh -s', { stdin: script, sudo: true });
  if (r.code !== 0) throw new RuntimeError(`${host.target}: reading the host's state failed (exit ${r.code})`, r.stderr.trim());
  return parseFacts(r.stdout);
}

function checkRelease(project: Project, host: Transport, facts: Facts): void {
  const want = project.config.server.release;
  if (facts.release === undefined) {
    throw new RuntimeError(
      `${host.target} runs ${facts.os.prettyName}; mailrig supports Debian 12 (bookworm) and Debian 13 (trixie)`,
    );
  }
  if (facts.release !== want) {
    throw new UsageError(
      `${project.configPath}: server.release is ${want}, but ${host.target} runs ${facts.os.prettyName} (${facts.release}); set server.release: ${facts.release}`,
    );
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

function showPlan(run: PreparedRun, brief: boolean): void {
  out(`${run.host.target}: ${run.facts.os.prettyName}`);
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
    services: run.plan.actions.map((a) => ({ service: a.daemon, action: a.action, because: a.because })),
  };
}

export async function runPlan(opts: HostOptions & { json?: boolean }): Promise<void> {
  const run = await prepareRun(opts);
  try {
    if (opts.json) out(JSON.stringify(planJson(run), null, 2));
    else showPlan(run, false);
  } finally {
    await run.host.close();
  }
}

/** Host key files that differ from .mailrig's: the operator must choose which to keep. */
function conflictingKeys(plan: Plan): string[] {
  return plan.changes.filter((c) => c.kind === 'update' && c.file.secret && /\.(key|pem)$/.test(c.file.path)).map((c) => c.file.path);
}

/** TLS (issue 6): after a successful apply, the renewal agent and, when due, a certificate over ACME. */
async function afterApply(run: PreparedRun, opts: ApplyOptions): Promise<void> {
  // Backups (issue 9): the daily schedule active and the restic repository created.
  const { backup } = run.project.config;
  if (backup) await (await import('../backup/schedule.js')).backupAfterApply(run.host, run.plan.changes.map((c) => c.file.path), backup.repository, opts.json ? () => undefined : out);
  if (!acmeEnabled(run.project.config)) return;
  const { ensureCertificate } = await import('../tls/provision.js');
  await ensureCertificate(run.project, run.host, run.facts, run.served, {
    acceptTerms: opts.acceptAcmeTerms,
    interactive: process.stdin.isTTY === true && !opts.yes,
    out: opts.json ? () => undefined : out,
    warn: (line) => process.stderr.write(`mailrig: warning: ${line}\n`),
    confirm,
  });
}

export async function runApply(opts: ApplyOptions): Promise<void> {
  const run = await prepareRun(opts);
  try {
    const { plan } = run;
    if (isEmpty(plan)) {
      out(`${run.host.target}: no changes; the host matches ${opts.config}.`);
      await afterApply(run, opts);
      return;
    }
    const conflicts = conflictingKeys(plan);
    if (conflicts.length && !opts.replaceHostKeys) {
      throw new RuntimeError(
        `${run.host.target} holds keys that differ from ${run.project.keys.dir}: ${conflicts.join(', ')}`,
        'Keep the host\'s keys: copy them into .mailrig/ (same file names) and re-run.\nUse .mailrig\'s keys: re-run with --replace-host-keys (publish the new DKIM/TLSA records first).',
      );
    }
    if (!opts.json) showPlan(run, plan.changes.length > 20);
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new UsageError('apply needs --yes when there is no terminal to confirm on');
      if (!(await confirm(`Apply these changes to ${run.host.target}?`))) {
        out('Nothing changed.');
        return;
      }
    }
    const started = Date.now();
    const steps = opts.json ? { step: () => undefined, end: () => undefined } : progress();
    let result;
    try {
      result = await executePlan({
        host: run.host,
        plan,
        facts: run.facts,
        ports: portsFor(run.project.config),
        runId: `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`,
        step: (m) => steps.step(m),
      });
      steps.end(true);
      clearPurges(run.project, plan.purges);
    } catch (e) {
      steps.end(false);
      throw e;
    }
    const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
    if (opts.json) {
      await afterApply(run, opts);
      out(JSON.stringify({ ...planJson(run), applied: true, done: result.actions, seconds }, null, 2));
      return;
    }
    out(`${run.host.target}: applied (${summarize(plan)}) in ${seconds}s`);
    if (result.actions.length === 0) out('No service needed a reload.');
    await afterApply(run, opts);
  } finally {
    await run.host.close();
  }
}
