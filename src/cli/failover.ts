// mailrig failover --to <standby> and mailrig failback: the standby and the primary change roles in
// mailrig.yaml (server: and the standby's entry of servers: swap their hosts), every host is applied
// (the old primary may be down: it is named, the run goes on, and an apply once it answers makes it
// the standby), and with dns.provider rfc2136 the records are pushed (MX and SPF follow the primary).
// failback first runs one last replication from the current primary, so nothing made there since the
// last timer run stays behind, then swaps back the same way.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { primaryOf, standbyOf, type Config, type Server } from '../config/model.js';
import { saveEdit, swapWithStandby } from '../config/edit.js';
import { RuntimeError, UsageError } from '../errors.js';
import { openTarget } from '../pipeline/host.js';
import { loadInputs } from '../pipeline/run.js';
import { loadProject } from '../pipeline/project.js';
import { REPLICATION_FILES } from '../render/replication.js';
import { applyHosts } from './apply-hosts.js';
import { confirm, type ApplyOptions } from './apply.js';

export interface FailoverOptions extends ApplyOptions {
  to?: string;
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`mailrig: warning: ${line}\n`);

function theStandby(config: Config, configPath: string): Server {
  const standby = standbyOf(config);
  if (!standby) throw new UsageError(`${configPath}: no standby (an entry of servers: with role: standby); there is nothing to fail over to`);
  return standby;
}

export async function runFailover(opts: FailoverOptions): Promise<void> {
  const { config } = await loadProject(opts.config);
  const standby = theStandby(config, opts.config);
  if (opts.to === undefined) throw new UsageError(`failover needs --to ${standby.name}: the standby to make the primary`);
  if (opts.to !== standby.name && opts.to.toLowerCase() !== standby.hostname) {
    const primary = primaryOf(config);
    const why = opts.to === primary.name || opts.to.toLowerCase() === primary.hostname ? 'is the primary already' : 'is no host of mailrig.yaml';
    throw new UsageError(`--to ${opts.to}: ${why}; the standby is ${standby.name} (${standby.hostname})`);
  }
  await switchRoles(opts, config, standby);
}

export async function runFailback(opts: ApplyOptions): Promise<void> {
  const { config } = await loadProject(opts.config);
  const standby = theStandby(config, opts.config);
  const primary = primaryOf(config);
  await confirmSwitch(opts, `Run a last sync from ${primary.name} to ${standby.name}, then make ${standby.name} the primary again?`);
  // The last sync: the current primary's replication run, by hand. It must succeed, or mail made on
  // the current primary since its last run would wait there until the roles are swapped again.
  const host = await openTarget(primary.ssh, opts, confirm);
  try {
    out(`${primary.name}: last sync to ${standby.name} …`);
    // --wait: after the timer's run if one is going, never instead of it.
    const r = await host.exec(`${REPLICATION_FILES.script} --wait`, { sudo: true, timeoutMs: 30 * 60_000 });
    if (r.code !== 0) {
      throw new RuntimeError(`${primary.name}: the last sync to ${standby.name} failed (exit ${r.code}); nothing changed`, (r.stdout + r.stderr).trim().split('\n').slice(-5).join('\n'));
    }
    out(r.stdout.trim());
  } finally {
    await host.close();
  }
  await switchRoles({ ...opts, yes: true }, config, standby);
}

async function confirmSwitch(opts: ApplyOptions, question: string): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY) throw new UsageError('this changes mailrig.yaml and every host: pass --yes when there is no terminal to confirm on');
  if (!(await confirm(question))) throw new UsageError('nothing changed');
}

/** Swaps the roles in mailrig.yaml, applies every host (the old primary may fail), pushes DNS. */
async function switchRoles(opts: ApplyOptions, config: Config, standby: Server): Promise<void> {
  const old = primaryOf(config);
  await confirmSwitch(opts, `Make ${standby.name} (${standby.hostname}) the primary and ${old.name} the standby?`);
  const path = resolve(opts.config);
  const index = config.servers.indexOf(standby) - 1;
  saveEdit(path, swapWithStandby(readFileSync(path, 'utf8'), index));
  out(`${opts.config}: ${standby.name} is the primary now, ${old.name} the standby`);
  const inputs = await loadInputs(opts.config);
  const common = { replaceHostKeys: opts.replaceHostKeys, acceptAcmeTerms: opts.acceptAcmeTerms, interactive: false, confirm, out, warn };
  await applyHosts(inputs, inputs.project.config.servers, { ...opts, yes: true }, common, [old.name]);
  if (inputs.project.config.dns.provider === 'rfc2136') {
    const code = await (await import('./dns.js')).runPush({ config: opts.config, yes: true });
    if (code !== 0) throw new RuntimeError(`dns push exited ${code}; run mailrig dns push once the name server answers`);
  } else {
    out('DNS: publish the records mailrig dns prints (the MX now names the new primary).');
  }
}
