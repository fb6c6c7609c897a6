// Executing a plan on the host, and only what it lists: install packages → stage files → validate the
// staged configuration with the daemons' own checks → stop schedules that go → swap it in and remove
// what is no longer rendered (keeping the previous versions) → rebuild maps → start, reload or restart
// only what changed → enable schedules, make the backup repository exist → check health → roll the
// swap back if health fails.
import { RuntimeError } from '../errors.js';
import type { Facts } from '../host/facts.js';
import { DAEMONS, TLS_CONSUMERS, type Daemon, type Plan, type Task } from '../plan/plan.js';
import { afterServices, beforeSwap, taskScript } from './tasks.js';
import {
  STATE_DIR,
  afterStart,
  beforeStart,
  healthScript,
  installScript,
  prepareScript,
  purgeScript,
  rollbackScript,
  serviceCommand,
  stageScript,
  swapScript,
  touchesSystemdUnits,
  validateScript,
} from './scripts.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The one thing apply needs from a transport: run a command (as root) with a script on stdin. */
export interface Runner {
  readonly target: string;
  exec(cmd: string, opts?: { stdin?: string; detachStreams?: boolean }): Promise<ExecResult>;
  put(path: string, content: string, mode: string): Promise<void>;
}

export interface ApplyInput {
  host: Runner;
  plan: Plan;
  facts: Facts;
  /** Ports each daemon must listen on after the run. */
  ports: Record<Daemon, number[]>;
  /**
   * The daemons this host's role has (default: every daemon): only they are validated and restarted
   * when their files change (a backup MX has no Dovecot to check its certificate with).
   */
  daemons?: readonly Daemon[];
  /** Progress lines for the operator. */
  step: (message: string) => void;
  /** A unique id for this run (staging and backup directory names). */
  runId: string;
}

export interface ApplyResult {
  installed: string[];
  written: string[];
  removed: string[];
  actions: string[];
  /** Host tasks done, with what they printed (e.g. "created" for a new backup repository). */
  tasks: Array<{ task: Task; output: string }>;
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Runs a script as root. A detached script (one that may start daemons, which would hold the
 * channel's streams open) cannot read itself from stdin, so it goes to a file first.
 */
async function run(host: Runner, what: string, script: string, detachStreams = false): Promise<ExecResult> {
  let r: ExecResult;
  if (detachStreams) {
    const file = `${STATE_DIR}/run.sh`;
    await host.put(file, script, '0700');
    r = await host.exec(`sh ${file}; rc=$?; rm -f ${file}; exit $rc`, { detachStreams: true });
  } else {
    r = await host.exec('sh -s', { stdin: script });
  }
  if (r.code !== 0) {
    throw new RuntimeError(`${host.target}: ${what} failed (exit ${r.code})`, tail(`${r.stdout}\n${r.stderr}`));
  }
  return r;
}

/** The daemons whose configuration a plan's file changes touch: these are validated before the swap. */
export function touchedDaemons(plan: Plan, present: readonly Daemon[] = DAEMONS): Daemon[] {
  const set = new Set<Daemon>();
  const services = [...plan.changes.filter((c) => c.kind !== 'attributes').map((c) => c.file.service), ...plan.removals.map((r) => r.service)];
  for (const service of services) {
    if (service === 'mailrig') TLS_CONSUMERS.forEach((d) => set.add(d));
    else if (DAEMONS.includes(service)) set.add(service);
  }
  return [...set].filter((d) => present.includes(d)).sort();
}

export async function executePlan(input: ApplyInput): Promise<ApplyResult> {
  const { host, plan, facts, step } = input;
  const stage = `${STATE_DIR}/stage-${input.runId}`;
  const backup = `${STATE_DIR}/backup/${input.runId}`;

  if (plan.installs.length) {
    step(`installing ${plan.installs.length} packages (apt-get)`);
    // Detached: a package whose daemon starts anyway (no policy-rc.d honoured) must not hold the channel.
    await run(host, 'installing packages', installScript(plan.installs), true);
  }
  await run(host, 'preparing the vmail user and directories', prepareScript());

  const written = plan.changes.map((c) => c.file.path);
  const done: ApplyResult['tasks'] = [];
  const runTasks = async (tasks: Task[]) => {
    for (const task of tasks) {
      const script = taskScript(task);
      if (script === undefined) continue;
      step(describe(task));
      const r = await run(host, describe(task), script, true);
      done.push({ task, output: r.stdout.trim() });
    }
  };
  let stopped = false;
  if (plan.changes.length || plan.removals.length) {
    step(`staging ${plan.changes.length} files`);
    await run(host, 'staging files', stageScript(stage, plan.changes));
    const daemons = touchedDaemons(plan, input.daemons);
    if (daemons.length) {
      step(`validating the staged configuration (${daemons.join(', ')})`);
      const v = await host.exec('sh -s', { stdin: validateScript(stage, plan, daemons) });
      if (v.code !== 0) {
        await host.exec(`rm -rf ${stage}`);
        throw new RuntimeError(
          `${host.target}: the staged configuration was rejected; nothing was changed`,
          tail(`${v.stdout}\n${v.stderr}`, 30),
        );
      }
    }
    await runTasks(beforeSwap(plan.tasks));
    stopped = true;
    step(plan.removals.length ? `swapping the new files in, removing ${plan.removals.length}` : 'swapping the new files in');
    await run(host, 'swapping files in', swapScript(stage, backup, plan));
    // A changed drop-in takes effect at the next start only once systemd has read it again.
    if (facts.init === 'systemd' && touchesSystemdUnits(plan)) await run(host, 'reloading systemd units', 'systemctl daemon-reload');
  }

  const mail = plan.purges.filter((p) => p.kind === 'mail');
  if (mail.length) {
    step(`deleting the stored mail of ${mail.length} removed user(s)`);
    await run(host, 'deleting stored mail', purgeScript(mail));
  }

  const actions: string[] = [];
  for (const a of plan.actions) {
    const action = facts.services[a.daemon] === undefined ? 'start' : a.action;
    const before = action === 'reload' || action === 'stop' ? undefined : beforeStart(facts.init, a.daemon);
    if (before) {
      step(before.message);
      await host.exec(before.script, { detachStreams: true });
    }
    step(`${action} ${a.daemon}`);
    const r = await host.exec(serviceCommand(facts.init, a.daemon, action, facts.release), { detachStreams: true });
    if (r.code !== 0) return rollBack(input, backup, `${action} ${a.daemon} failed: ${tail(r.stderr)}`);
    const after = action === 'reload' || action === 'stop' ? undefined : afterStart(facts.init, a.daemon);
    if (after) {
      step(after.message);
      await host.exec(after.script, { detachStreams: true });
    }
    actions.push(`${action} ${a.daemon}`);
  }

  if (!stopped) await runTasks(beforeSwap(plan.tasks));
  // systemd forgets the units of disabled timers whose files are gone.
  if (beforeSwap(plan.tasks).length) await host.exec('systemctl daemon-reload');
  await runTasks(afterServices(plan.tasks));

  if (plan.actions.length || plan.changes.length) {
    const ports = [...new Set(Object.values(input.ports).flat())].sort((a, b) => a - b);
    step(`checking health (ports ${ports.join(' ')})`);
    const h = await host.exec('sh -s', { stdin: healthScript(ports) });
    if (h.code !== 0) return rollBack(input, backup, `health check failed: ${tail(h.stderr)}`);
  }
  // The data of switched-off services goes once they are stopped and the new configuration is healthy.
  const data = plan.purges.filter((p) => p.kind === 'service-data');
  if (data.length) {
    step(`deleting the data of switched-off services (${data.map((p) => p.path).join(', ')})`);
    await run(host, 'deleting service data', purgeScript(data));
  }
  await host.exec(`ls -1dt ${STATE_DIR}/backup/* 2>/dev/null | tail -n +6 | xargs -r rm -rf`);
  return { installed: plan.installs, written, removed: plan.removals.map((r) => r.path), actions, tasks: done };
}

function describe(task: Task): string {
  if (task.kind === 'schedule') return task.init === 'sysv' ? 'making cron run' : `${task.action === 'enable' ? 'enabling' : 'disabling'} ${task.unit}.timer`;
  if (task.kind === 'backup-repository') return `opening the backup repository ${task.repository}`;
  return 'requesting a certificate';
}

async function rollBack(input: ApplyInput, backup: string, reason: string): Promise<never> {
  const { host, plan, facts, step } = input;
  if (!plan.changes.length && !plan.removals.length) throw new RuntimeError(`${host.target}: ${reason}`);
  step(`rolling back: ${reason}`);
  const r = await host.exec('sh -s', { stdin: rollbackScript(backup, plan) });
  if (facts.init === 'systemd' && touchesSystemdUnits(plan)) await host.exec('systemctl daemon-reload');
  for (const daemon of touchedDaemons(plan, input.daemons)) {
    if (facts.services[daemon] !== undefined) await host.exec(serviceCommand(facts.init, daemon, 'restart', facts.release));
  }
  throw new RuntimeError(
    `${host.target}: ${reason}; ${r.code === 0 ? 'rolled back to the previous configuration' : 'ROLLBACK FAILED'}`,
    r.code === 0 ? undefined : tail(r.stderr),
  );
}
