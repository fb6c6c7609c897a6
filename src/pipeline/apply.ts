// The last stage of the pipeline: execute a prepared run's plan on the host (apply/apply.ts), forget
// the purges it did, and request the certificate the plan lists (from this machine, to the CA).
import { randomBytes } from 'node:crypto';
import { executePlan, type ApplyResult } from '../apply/apply.js';
import { RuntimeError } from '../errors.js';
import { readPending, writePending } from '../keys/pending.js';
import type { Plan, Purge } from '../plan/plan.js';
import { mailHome } from '../render/vmail.js';
import { daemonsOfRole, portsFor } from '../services/index.js';
import type { Confirm } from './host.js';
import type { Project } from './project.js';
import type { PreparedRun } from './run.js';

export interface ExecuteOptions {
  /** Overwrite keys the host holds that differ from .mailrig's. */
  replaceHostKeys?: boolean;
  /** Accept the ACME CA's terms without asking. */
  acceptAcmeTerms?: boolean;
  /** Whether questions may be asked (a terminal, no --yes). */
  interactive: boolean;
  confirm: Confirm;
  /** Progress lines, result lines and warnings for the operator. */
  step: (message: string) => void;
  out: (line: string) => void;
  warn: (line: string) => void;
}

/** Host key files that differ from .mailrig's: the operator must choose which to keep. */
export function conflictingKeys(plan: Plan): string[] {
  return plan.changes.filter((c) => c.kind === 'update' && c.file.secret && /\.(key|pem)$/.test(c.file.path)).map((c) => c.file.path);
}

/** Refuses to overwrite the host's own keys unless asked to. */
export function checkKeyConflicts(run: PreparedRun, replaceHostKeys: boolean | undefined): void {
  const conflicts = conflictingKeys(run.plan);
  if (!conflicts.length || replaceHostKeys) return;
  throw new RuntimeError(
    `${run.host.target} holds keys that differ from ${run.project.keys.dir}: ${conflicts.join(', ')}`,
    'Keep the host\'s keys: copy them into .mailrig/ (same file names) and re-run.\nUse .mailrig\'s keys: re-run with --replace-host-keys (publish the new DKIM/TLSA records first).',
  );
}

/** Forgets the purges an apply has done. */
function clearPurges(project: Project, done: Purge[]): void {
  const mail = done.filter((p) => p.kind === 'mail');
  if (!mail.length) return;
  const pending = readPending(project.configPath);
  const gone = new Set(mail.map((p) => p.path));
  writePending(project.configPath, { ...pending, purge: pending.purge.filter((p) => !gone.has(mailHome(p.address))) });
}

const runId = () => `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;

/** Executes the plan, and only what it lists; the caller has shown it and had it confirmed. */
export async function executeRun(run: PreparedRun, opts: ExecuteOptions): Promise<ApplyResult> {
  checkKeyConflicts(run, opts.replaceHostKeys);
  const result = await executePlan({
    host: run.host,
    plan: run.plan,
    facts: run.facts,
    ports: portsFor(run.project.config),
    daemons: daemonsOfRole(run.project.config),
    runId: runId(),
    step: opts.step,
  });
  clearPurges(run.project, run.plan.purges);
  for (const task of run.plan.tasks) {
    if (task.kind !== 'certificate') continue;
    const acme = await import('./acme.js');
    if (!(await acme.acmeConsent(run.project, opts))) continue;
    acme.keepServedLocally(run.project, run.served);
    await acme.issueCertificate(run.project, run.host, run.facts, run.served, task.reason, opts);
  }
  return result;
}
