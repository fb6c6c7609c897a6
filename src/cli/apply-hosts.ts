// mailrig plan and apply over several hosts (mailrig.yaml lists servers beside the primary, or
// --host names one): facts from every host in parallel, the plan shown under a heading per host,
// one confirmation, the hosts applied in parallel. A host that cannot be reached, read or applied is
// named and the run exits 1; every other host is applied in full, and a re-run converges.
import type { Server } from '../config/model.js';
import { RuntimeError, UsageError } from '../errors.js';
import { summarize } from '../plan/format.js';
import { isEmpty } from '../plan/plan.js';
import { checkKeyConflicts, executeRun, type ExecuteOptions } from '../pipeline/apply.js';
import { prepareRuns, type HostRun, type Inputs, type PreparedRun } from '../pipeline/run.js';
import { acmeEnabled } from '../tls/directory.js';
import { confirm, planJson, showPlan, type ApplyOptions, type HostOptions } from './apply.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** The heading a host's part of the output starts with. */
export function hostHeading(server: Server): string {
  return `== ${server.name} (${server.role}, ${server.hostname}) ==`;
}

/** What a host that failed says: the error's message, and its detail when it has one. */
export function failureText(error: unknown): string {
  if (error instanceof RuntimeError && error.detail) return `${error.message}\n${error.detail}`;
  return error instanceof Error ? error.message : String(error);
}

/** Throws the one error a run over hosts ends with when some failed: exit 1, each host named. */
function failIfAny(failed: Array<{ server: Server; error: unknown }>, total: number): void {
  if (!failed.length) return;
  // Bad input stays bad input (exit 2) when it is all that went wrong.
  if (failed.every((f) => f.error instanceof UsageError) && failed.length === total) throw failed[0]?.error;
  const names = failed.map((f) => f.server.name).join(', ');
  throw new RuntimeError(
    `${failed.length} of ${total} hosts failed: ${names}`,
    failed.map((f) => `${f.server.name} (${f.server.ssh}): ${failureText(f.error)}`).join('\n'),
  );
}

async function closeAll(runs: HostRun[]): Promise<void> {
  await Promise.all(runs.map((r) => r.run?.host.close().catch(() => undefined)));
}

export async function planHosts(inputs: Inputs, servers: Server[], opts: HostOptions & { json?: boolean; purge?: boolean }, ask: typeof confirm): Promise<void> {
  const runs = await prepareRuns(inputs, servers, opts, ask);
  try {
    if (opts.json) {
      out(JSON.stringify(runs.map((r) => (r.run ? { name: r.server.name, role: r.server.role, ...planJson(r.run) } : { name: r.server.name, role: r.server.role, error: failureText(r.error) })), null, 2));
    } else {
      for (const r of runs) {
        out(hostHeading(r.server));
        if (r.run) showPlan(r.run, false);
        else out(`${r.server.name}: not planned: ${failureText(r.error)}`);
        out('');
      }
    }
    failIfAny(runs.flatMap((r) => (r.run ? [] : [{ server: r.server, error: r.error }])), runs.length);
  } finally {
    await closeAll(runs);
  }
}

/**
 * Applies `servers` in parallel. A host named in `mayFail` (the old primary of a failover, which may
 * be down) that fails is named in a warning and does not fail the run; any other failure does.
 */
export async function applyHosts(
  inputs: Inputs,
  servers: Server[],
  opts: ApplyOptions,
  common: Omit<ExecuteOptions, 'step'>,
  mayFail: readonly string[] = [],
): Promise<void> {
  const quiet = opts.json === true;
  if (acmeEnabled(inputs.project.config) && servers.some((s) => s.role === 'primary')) {
    await (await import('../pipeline/acme.js')).acmeConsent(inputs.project, common);
  }
  const runs = await prepareRuns(inputs, servers, opts, confirm);
  try {
    const ready = runs.filter((r): r is HostRun & { run: PreparedRun } => r.run !== undefined);
    const failed: Array<{ server: Server; error: unknown }> = runs.filter((r) => r.error !== undefined).map((r) => ({ server: r.server, error: r.error }));
    const changing = ready.filter((r) => !isEmpty(r.run.plan));
    const keyTrouble = changing.filter((r) => {
      try {
        checkKeyConflicts(r.run, opts.replaceHostKeys);
        return false;
      } catch (error) {
        failed.push({ server: r.server, error });
        return true;
      }
    });
    const toApply = changing.filter((r) => !keyTrouble.includes(r));
    for (const r of ready) {
      if (isEmpty(r.run.plan)) out(`${r.run.host.target}: no changes; the host matches ${opts.config}.`);
    }
    for (const f of failed) if (!quiet) out(`${f.server.name}: not applied: ${failureText(f.error)}`);
    if (toApply.length && !quiet) {
      for (const r of toApply) {
        out(hostHeading(r.server));
        showPlan(r.run, r.run.plan.changes.length > 20);
        out('');
      }
    }
    if (toApply.length && !opts.yes) {
      if (!process.stdin.isTTY) throw new UsageError('apply needs --yes when there is no terminal to confirm on');
      if (!(await confirm(`Apply these changes to ${toApply.map((r) => r.server.name).join(', ')}?`))) {
        out('Nothing changed.');
        return;
      }
    }
    const results = await Promise.all(
      toApply.map(async (r) => {
        const started = Date.now();
        const step = quiet ? () => undefined : (m: string) => out(`  [${r.server.name}] … ${m}`);
        try {
          const result = await executeRun(r.run, { ...common, step });
          return { r, result, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) };
        } catch (error) {
          failed.push({ server: r.server, error });
          return undefined;
        }
      }),
    );
    for (const done of results) {
      if (!done) continue;
      if (quiet) out(JSON.stringify({ name: done.r.server.name, ...planJson(done.r.run), applied: true, done: done.result.actions, seconds: done.seconds }));
      else out(`${done.r.run.host.target}: applied (${summarize(done.r.run.plan)}) in ${done.seconds}s`);
    }
    for (const f of failed.filter((f) => mayFail.includes(f.server.name))) {
      common.warn(`${f.server.name} (${f.server.ssh}) was not applied: ${failureText(f.error).split('\n')[0]}; apply again once it answers`);
    }
    failIfAny(
      failed.filter((f) => !mayFail.includes(f.server.name)),
      runs.length,
    );
  } finally {
    await closeAll(runs);
  }
}
