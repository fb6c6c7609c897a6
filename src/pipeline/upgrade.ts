// mailrig upgrade: a Debian 12 host to Debian 13, in place. Preflight (pure decisions on the facts,
// upgrade/preflight.ts), then the steps of upgrade/journal.ts, each recorded on the host as it ends,
// so that a second run continues after the last one done. Before the package upgrade a failure puts
// the host back as it was; after it, the mail daemons are stopped (mail and queue stay on disk) and
// the report says what to run next. The Debian 13 configuration goes in through the normal plan and
// apply (plan/, apply/), validated by the new daemons before the swap — and once already before the
// package upgrade, by the downloaded packages unpacked beside the system (the `validated` step).
import { readFileSync } from 'node:fs';
import { BACKUP_LOG, BACKUP_SCRIPT, backupNowCommand } from '../backup/restic.js';
import { backupStatus } from '../backup/status.js';
import type { Config, Release } from '../config/model.js';
import { saveEdit, setSectionEntries } from '../config/edit.js';
import { RuntimeError, UsageError } from '../errors.js';
import type { Facts } from '../host/facts.js';
import { quote } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import { summarize } from '../plan/format.js';
import { isEmpty } from '../plan/plan.js';
import { daemonSpec, daemonsFor, DAEMONS, render, unitName } from '../services/index.js';
import { parseUpgradeFacts, upgradeFactsScript, type UpgradeFacts } from '../upgrade/facts.js';
import { JOURNAL, journalHeader, journalLine, pastNoReturn, remaining, STEP_TEXT, type Step } from '../upgrade/journal.js';
import { decide, decideBackup, targetProblem, UPGRADES } from '../upgrade/preflight.js';
import {
  debsOfSimulation,
  downloadScript,
  packagesScript,
  pauseScript,
  restoreSourcesScript,
  resumedScript,
  resumeFromSavedScript,
  simulateScript,
  sourcesScript,
  stopScript,
  UNPACKED,
  unpackedCleanupScript,
  unpackScript,
  VALIDATE_STAGE,
} from '../upgrade/scripts.js';
import { stageScript, validateScript } from '../apply/scripts.js';
import { executeRun, type ExecuteOptions } from './apply.js';
import { connect, loadInputs, planRun, readFacts, type Inputs } from './run.js';
import type { HostOptions } from './host.js';

/** Measured on the test host (README, "Upgrading Debian 12 to 13"): shown by --dry-run. */
export const EXPECTED = { minutes: '2–5', intakePausedMinutes: '1½–4' };

/** The resolver keeps running through the package upgrade: apt and the apply step resolve names through it. */
const KEEP_RUNNING = 'unbound';

export interface UpgradeOptions extends HostOptions {
  to: string;
  dryRun?: boolean;
  yes?: boolean;
}

export interface UpgradeIo extends Pick<ExecuteOptions, 'confirm' | 'interactive' | 'out' | 'warn' | 'step'> {}

export interface UpgradeResult {
  /** Seconds per step run by this invocation. */
  seconds: Partial<Record<Step, number>>;
  totalSeconds: number;
}

function withRelease(inputs: Inputs, release: Release): Inputs {
  const config: Config = { ...inputs.project.config, server: { ...inputs.project.config.server, release } };
  const project = { ...inputs.project, config };
  const ctx = { ...inputs.ctx, config, release };
  return { project, ctx, files: render(ctx) };
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a step's script as root from a file on the host (daemons it starts must not hold the channel). */
async function runScript(host: Transport, what: string, script: string): Promise<string> {
  const file = `${JOURNAL}.run.sh`;
  await host.put(file, script, '0700');
  const r = await host.exec(`sh ${file}; rc=$?; rm -f ${file}; exit $rc`, { sudo: true, detachStreams: true });
  if (r.code !== 0) throw new StepFailed(what, tail(`${r.stdout}\n${r.stderr}`));
  return r.stdout;
}

class StepFailed extends Error {
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(what);
  }
}

async function readAll(host: Transport, inputs: Inputs) {
  const { facts, raw } = await readFacts(host, inputs, upgradeFactsScript());
  return { facts, upgrade: parseUpgradeFacts(raw) };
}

/** Steps and what each does, numbered, for --dry-run and the confirmation. */
export function describeSteps(steps: Step[]): string[] {
  return steps.map((s, i) => `  ${i + 1}. ${STEP_TEXT[s]}`);
}

export async function runUpgradePipeline(opts: UpgradeOptions, io: UpgradeIo): Promise<UpgradeResult | undefined> {
  const started = Date.now();
  const target = UPGRADES[opts.to];
  // A target mailrig does not know is refused before anything is read or asked.
  const unknown = targetProblem(opts.to);
  if (unknown) throw new UsageError(unknown);
  const inputs = await loadInputs(opts.config);
  const { project } = inputs;
  const host = await connect(project, opts, io.confirm);
  try {
    const { facts, upgrade } = await readAll(host, inputs);
    const fresh = upgrade.journal === undefined;
    // Drift is asked of a host that still runs the configured release only.
    const drift = fresh && target && facts.release === project.config.server.release && facts.release === target.from ? await driftOf(inputs, host, facts) : [];
    const decision = decide({
      to: opts.to,
      configPath: project.configPath,
      configRelease: project.config.server.release,
      hostRelease: facts.release,
      hostName: host.target,
      upgrade,
      drift,
    });
    if (decision.kind === 'refuse') throw new UsageError(decision.problems.join('\n'));
    const next = withRelease(inputs, opts.to as Release);
    const steps = remaining(upgrade.journal);
    io.out(`${host.target}: ${facts.os.prettyName} → ${opts.to}${decision.kind === 'continue' ? ` (continuing an upgrade stopped after: ${upgrade.journal?.done.at(-1) ?? 'nothing'})` : ''}`);
    if (fresh) io.out(`Preflight passed: no drift, ${Math.floor(upgrade.freeKb / 1024)} MB free, no held packages, the ${opts.to} configuration renders (${next.files.length} files).`);
    // A continued upgrade took (or skipped) its backup on its first run, before anything changed.
    const backup = fresh ? decideBackup(await backupStatus(host, project.config)) : undefined;
    if (backup?.kind === 'none') io.warn(backup.message);
    else if (backup) io.out(`Backup: ${backup.message}.`);
    io.out('Steps:');
    if (backup?.kind === 'take') io.out(`  0. back up the host now (${BACKUP_SCRIPT}); a failed backup stops the upgrade, nothing changed`);
    describeSteps(steps).forEach((l) => io.out(l));
    io.out(`Expected: about ${EXPECTED.minutes} minutes in all; mail intake paused for ${EXPECTED.intakePausedMinutes} of them (senders retry).`);
    if (opts.dryRun) return undefined;
    if (!opts.yes) {
      if (!io.interactive) throw new UsageError('upgrade needs --yes when there is no terminal to confirm on');
      if (!(await io.confirm(`Upgrade ${host.target} to ${opts.to}?`))) {
        io.out('Nothing changed.');
        return undefined;
      }
    }
    if (backup?.kind === 'take') await takeBackup(host, io);
    if (fresh) await runScript(host, 'starting the journal', `set -e\ninstall -d -m 0700 $(dirname ${JOURNAL})\nprintf '%s' ${quote(journalHeader(opts.to))} > ${JOURNAL}\n`);
    const seconds = await runSteps(host, inputs, next, upgrade, steps, opts, io);
    return { seconds, totalSeconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    await host.close();
  }
}

/** The backup `mailrig backup now` takes, before the journal starts: a failure leaves the host untouched. */
async function takeBackup(host: Transport, io: UpgradeIo): Promise<void> {
  io.step(`back up the host (${BACKUP_SCRIPT})`);
  const r = await host.exec(backupNowCommand(), { sudo: true });
  if (r.code !== 0) {
    throw new RuntimeError(
      `${host.target}: the backup before the upgrade failed (exit ${r.code}); nothing was changed, its log is ${BACKUP_LOG}`,
      `${tail(`${r.stdout}\n${r.stderr}`, 15)}\nFix the backup (mailrig backup now shows it), then run mailrig upgrade again.`,
    );
  }
  const saved = /snapshot ([0-9a-f]+) saved/.exec(r.stdout);
  io.out(`${host.target}: ${saved ? `backup snapshot ${saved[1]} saved` : 'backup done'}`);
}

async function driftOf(inputs: Inputs, host: Transport, facts: Facts): Promise<string[]> {
  const run = await planRun(inputs, host, facts, { diffs: false });
  return isEmpty(run.plan) ? [] : [summarize(run.plan)];
}

async function runSteps(host: Transport, current: Inputs, next: Inputs, upgrade: UpgradeFacts, steps: Step[], opts: UpgradeOptions, io: UpgradeIo): Promise<Partial<Record<Step, number>>> {
  const target = UPGRADES[opts.to];
  if (!target) throw new Error(`no upgrade to ${opts.to}`);
  const config = current.project.config;
  const daemons = daemonsFor(config);
  const units = (release: Release) => daemons.map((d) => unitName(daemonSpec(d), release));
  const from = target.from;
  const seconds: Partial<Record<Step, number>> = {};
  const sourceFiles = [...new Set(upgrade.sources.map((e) => e.file))];
  const bodies: Record<Step, () => Promise<void>> = {
    paused: async () => void (await runScript(host, 'pausing mail intake', pauseScript())),
    sources: async () => void (await runScript(host, 'switching the apt sources', sourcesScript(sourceFiles, target.fromSuite, target.toSuite))),
    downloaded: async () => void (await runScript(host, 'downloading the packages', downloadScript())),
    validated: async () => {
      const { facts } = await readFacts(host, next);
      const run = await planRun(next, host, facts, { diffs: false });
      const debs = debsOfSimulation(await runScript(host, 'listing the packages of the upgrade', simulateScript(run.plan.installs)));
      const daemons = daemonsFor(next.project.config);
      try {
        await runScript(host, 'unpacking the downloaded packages', unpackScript(UNPACKED, debs));
        await runScript(
          host,
          `validating the ${opts.to} configuration with the ${opts.to} daemons (${daemons.join(', ')})`,
          `${stageScript(VALIDATE_STAGE, run.plan.changes)}\n${validateScript(VALIDATE_STAGE, run.plan, daemons, { unpacked: UNPACKED })}`,
        );
      } finally {
        await runScript(host, 'removing the unpacked packages', unpackedCleanupScript());
      }
      io.out(`${host.target}: the ${opts.to} configuration passed the checks of the ${opts.to} daemons (${debs.length} packages unpacked to run them)`);
    },
    stopped: async () => void (await runScript(host, 'stopping the mail services', stopScript(units(from).filter((u) => u !== KEEP_RUNNING)))),
    packages: async () => {
      // Every unit name of either release: the maintainer scripts of both sides must not start a daemon.
      const denied = [...new Set([...units(from), ...units(opts.to as Release), ...DAEMONS.map((d) => daemonSpec(d)).flatMap((s) => [unitName(s, from), unitName(s, opts.to as Release)])])];
      const out = await runScript(host, 'upgrading the packages (apt-get full-upgrade)', packagesScript(denied, [KEEP_RUNNING]));
      io.out(`${host.target}: packages upgraded; Debian ${out.trim().split('\n').at(-1) ?? '?'}`);
    },
    applied: async () => {
      const { facts } = await readFacts(host, next);
      if (facts.release !== opts.to) throw new StepFailed('applying the new configuration', `${host.target} reports ${facts.os.prettyName} after the package upgrade`);
      const run = await planRun(next, host, facts, { diffs: true });
      io.out(`${host.target}: applying the ${opts.to} configuration (${summarize(run.plan)})`);
      try {
        await executeRun(run, { ...io, interactive: false });
      } catch (e) {
        throw new StepFailed('applying the new configuration', e instanceof RuntimeError ? `${e.message}${e.detail ? `\n${e.detail}` : ''}` : String(e));
      }
    },
    resumed: async () => void (await runScript(host, 'resuming mail intake', resumedScript())),
    recorded: async () => {
      const path = current.project.configPath;
      saveEdit(path, setSectionEntries(readFileSync(path, 'utf8'), 'server', { release: opts.to }));
      await runScript(host, 'closing the journal', `rm -f ${JOURNAL}\n`);
    },
  };
  // Steps done, by earlier runs and this one: what the report lists, and what decides undo or stop.
  const journal = { to: opts.to, done: [...(upgrade.journal?.done ?? [])] };
  for (const step of steps) {
    const t0 = Date.now();
    io.step(STEP_TEXT[step]);
    try {
      await bodies[step]();
    } catch (e) {
      const failure = e instanceof StepFailed ? e : new StepFailed(STEP_TEXT[step], e instanceof Error ? e.message : String(e));
      throw await failed(host, step, failure, journal, units, from, opts);
    }
    seconds[step] = Math.round((Date.now() - t0) / 100) / 10;
    journal.done.push(step);
    if (step !== 'recorded') await runScript(host, 'recording the step', `printf '%s' ${quote(journalLine(step, new Date()))} >> ${JOURNAL}\n`);
  }
  return seconds;
}

/** After a failed step: undo (before the package upgrade) or stop safely (after it); the error to report. */
async function failed(
  host: Transport,
  step: Step,
  failure: StepFailed,
  journal: UpgradeFacts['journal'],
  units: (release: Release) => string[],
  from: Release,
  opts: UpgradeOptions,
): Promise<RuntimeError> {
  const command = `mailrig upgrade --to ${opts.to}${opts.config !== 'mailrig.yaml' ? ` -c ${opts.config}` : ''}`;
  if (!pastNoReturn(journal, step)) {
    const undo = [restoreSourcesScript(), resumeFromSavedScript(), ...units(from).map((u) => `systemctl start ${quote(u)} </dev/null >/dev/null 2>&1 || true`), `rm -rf ${JOURNAL} ${JOURNAL}.saved`].join('\n');
    const r = await host.exec(`sh -s`, { sudo: true, stdin: undo.replace(/^set -e$/gm, ''), detachStreams: false });
    return new RuntimeError(
      `${host.target}: the upgrade failed while ${failure.what}; ${r.code === 0 ? 'the host is as it was (apt sources restored, mail intake resumed, nothing upgraded)' : 'putting the host back FAILED, see below'}`,
      `${failure.detail}${r.code === 0 ? '' : `\n--- undo:\n${tail(r.stderr)}`}\nFix the cause, then run ${command} again.`,
    );
  }
  const stop = stopScript([...units(from), ...units(opts.to as Release)].filter((u) => u !== KEEP_RUNNING));
  await host.exec('sh -s', { sudo: true, stdin: stop });
  return new RuntimeError(
    `${host.target}: the upgrade to ${opts.to} stopped while ${failure.what}`,
    [
      failure.detail,
      '',
      `Mail is safe: the mailboxes and the Postfix queue are on disk; the mail services are stopped, and senders retry until they are back.`,
      `Steps done: ${(journal?.done ?? []).join(', ') || 'none'}; the journal is ${JOURNAL} on the host.`,
      `Next: fix the cause shown above (on the host: dpkg --configure -a, apt-get -f install), then run ${command} again: it continues with "${step}".`,
    ].join('\n'),
  );
}
