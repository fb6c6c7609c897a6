// mailrig setup: the interview when there is no mailrig.yaml yet, then either the whole provisioning
// (apply over SSH, then the DNS records and next steps) or, with --dry-run, a local render of the
// server and the DNS records, touching no host.
//
// With a mailrig.yaml already there, the file is what setup provisions. Interview flags that say the
// same as the file are fine (so a setup command can be run again as written); a flag that says
// something else is refused, each one named with the file's value and the command or edit that
// makes the change, and nothing is touched. --force replaces only a file without mailboxes (see init).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { displayAddress, normalizeAddress, toAsciiDomain, toUnicodeDomain } from '../config/syntax.js';
import { outboundTargets } from '../check/deliverability/outbound.js';
import { UsageError } from '../errors.js';
import { verifyPassword } from '../keys/password.js';
import { QUESTIONS, validateAcme } from '../interview/questions.js';
import type { ApplyOptions } from './apply.js';
import { readStdinPassword, runInit, type InterviewFlags } from './init.js';

export interface SetupFlags extends InterviewFlags, Omit<ApplyOptions, 'config'> {
  dryRun?: boolean;
  out: string;
  /** host:port targets for the outbound port 25 test (default: big providers' MX hosts). */
  outboundTarget?: string[];
}

export async function runSetup(flags: SetupFlags): Promise<void> {
  const configPath = resolve(flags.config);
  const targets = outboundTargets(flags.outboundTarget);
  // A dry run touches no host, not even to ask it about itself.
  if (!existsSync(configPath) || flags.force) {
    await runInit({ ...flags, probe: !flags.dryRun });
  } else {
    const conflicts = await flagConflicts(flags, loadConfig(configPath).config);
    if (conflicts.length > 0) {
      throw new UsageError(
        [
          `${flags.config} exists, and these flags say something else; nothing was changed:`,
          ...conflicts.map((c) => `  ${c}`),
          `Change mailrig.yaml (or run the command shown), then run setup without those flags; or, to start over from the flags alone, move ${flags.config} aside (its password hashes exist nowhere else) and run setup again (keys in .mailrig/ are kept).`,
        ].join('\n'),
      );
    }
    process.stdout.write(`using ${flags.config}${hasInterviewFlags(flags) ? ' (the flags given agree with it)' : ''}\n`);
  }
  if (flags.dryRun) {
    await (await import('./render.js')).run({ out: flags.out, config: configPath });
  } else {
    await (await import('./apply.js')).runApply({ ...flags, config: configPath });
    await reportOutbound(configPath, flags, targets);
  }
  process.stdout.write('\nDNS records to publish:\n');
  await (await import('./dns.js')).run({ config: configPath, format: 'table' });
  process.stdout.write(
    [
      '',
      'Next steps:',
      '  - Publish the records above at your DNS provider (or set dns.provider: rfc2136 and run mailrig dns push).',
      `  - Ask your hosting provider to set the PTR (reverse DNS) of each server address to the mail hostname.`,
      `  - Then check them: mailrig dns --check --config ${flags.config}`,
      '',
    ].join('\n'),
  );
}

/**
 * Whether mail can leave the new server directly: the port-25 test of `mailrig check`, run on the
 * host before setup finishes. A blocked port does not fail setup (the server is provisioned); it is
 * said plainly, with the relay section to add.
 */
async function reportOutbound(configPath: string, flags: SetupFlags, targets: string[]): Promise<void> {
  const { loadProject } = await import('../pipeline/project.js');
  const { openTransport } = await import('./apply.js');
  const { outboundProbesScript, parseOutbound } = await import('../host/facts-check.js');
  const { judgeOutbound } = await import('../check/deliverability/outbound.js');
  const project = await loadProject(configPath);
  let result;
  try {
    const host = await openTransport(project, flags);
    try {
      const r = await host.exec(`${outboundProbesScript(targets)} 2>/dev/null`);
      result = judgeOutbound(parseOutbound(r.stdout.split('\n')), project.config);
    } finally {
      await host.close();
    }
  } catch (e) {
    // The server is provisioned; the records below matter more than this test.
    process.stdout.write(`\nOutbound port 25: not tested (${(e as Error).message}); mailrig check tries it again\n`);
    return;
  }
  const label = result.status === 'ok' ? 'ok' : result.status === 'fail' ? 'FAIL' : 'warn';
  process.stdout.write(`\nOutbound port 25: ${label}: ${result.message}\n`);
  if (result.fix) process.stdout.write(`  fix: ${result.fix}\n`);
}

const INTERVIEW_FLAGS = ['hostname', 'domain', 'ipv4', 'ipv6', 'ssh', 'release', 'adminEmail', 'mailbox', 'passwordStdin', 'acme', 'allowPrivateAddresses'] as const;

function hasInterviewFlags(flags: SetupFlags): boolean {
  return INTERVIEW_FLAGS.some((f) => flags[f] !== undefined);
}

/** Canonical text of an IP address, so that 2001:DB8::0:10 and 2001:db8::10 compare equal. */
function canonicalIp(v: string): string {
  try {
    return v.includes(':') ? new URL(`http://[${v}]/`).hostname.slice(1, -1) : v;
  } catch {
    return v.toLowerCase();
  }
}

/** Each interview flag that disagrees with the loaded config, with how to make the change. */
export async function flagConflicts(flags: SetupFlags, config: Config): Promise<string[]> {
  const conflicts: string[] = [];
  const file = flags.config;
  // A value that is wrong in itself is named as such, as init would.
  const lab = flags.allowPrivateAddresses === true || loadConfig(resolve(file)).raw.server.allow_private_addresses;
  for (const q of QUESTIONS) {
    if (q.name === 'domains' || q.name === 'password' || q.name === 'mailbox' || q.name === 'allowPrivateAddresses') continue;
    const given = flags[q.name];
    const reason = given === undefined ? undefined : q.name === 'acme' ? validateAcme(given) : q.validate(given, { allowPrivateAddresses: lab });
    if (reason) throw new UsageError(`${q.flag}: "${given}" ${reason}`);
  }
  const differs = (flag: string, given: string, path: string, current: string | undefined, how: string) =>
    conflicts.push(`--${flag} ${given}: ${file} has ${path}: ${current ?? '(not set)'}; ${how}`);

  if (flags.hostname !== undefined && toAsciiDomain(flags.hostname) !== config.server.hostname) {
    differs('hostname', flags.hostname, 'server.hostname', toUnicodeDomain(config.server.hostname), 'edit server.hostname');
  }
  if (flags.ipv4 !== undefined && flags.ipv4 !== config.server.ipv4) {
    differs('ipv4', flags.ipv4, 'server.ipv4', config.server.ipv4, 'edit server.ipv4');
  }
  if (flags.ipv6 !== undefined && canonicalIp(flags.ipv6) !== (config.server.ipv6 && canonicalIp(config.server.ipv6))) {
    differs('ipv6', flags.ipv6, 'server.ipv6', config.server.ipv6, 'edit server.ipv6');
  }
  if (flags.ssh !== undefined && flags.ssh !== config.server.ssh) {
    differs('ssh', flags.ssh, 'server.ssh', config.server.ssh, 'edit server.ssh (and server.ipv4/ipv6 if the server moved)');
  }
  if (flags.release !== undefined && flags.release !== config.server.release) {
    differs('release', flags.release, 'server.release', config.server.release, 'edit server.release');
  }
  if (flags.adminEmail !== undefined && normalizeAddress(flags.adminEmail) !== config.adminEmail) {
    differs('admin-email', flags.adminEmail, 'admin_email', displayAddress(config.adminEmail), 'edit admin_email');
  }
  if (flags.acme !== undefined && flags.acme !== config.tls.acme) {
    differs('acme', flags.acme, 'tls.acme', config.tls.acme, 'edit tls.acme');
  }
  if (flags.allowPrivateAddresses) {
    // The loader has accepted the file's addresses; only a file without the switch disagrees when they are private.
    const raw = loadConfig(resolve(file)).raw;
    if (!raw.server.allow_private_addresses) {
      conflicts.push(`--allow-private-addresses: ${file} does not set server.allow_private_addresses; set it to true there`);
    }
  }
  const domains = new Set(config.domains.map((d) => d.name));
  for (const d of flags.domain ?? []) {
    const ascii = toAsciiDomain(d);
    if (ascii === undefined || !domains.has(ascii)) {
      conflicts.push(`--domain ${d}: not a mail domain in ${file} (${config.domains.map((x) => x.unicode).join(', ')}); add it with mailrig domain add ${d}`);
    }
  }
  const mailbox = flags.mailbox === undefined ? undefined : config.domains.flatMap((d) => d.mailboxes).find((m) => m.address === normalizeAddress(flags.mailbox ?? ''));
  if (flags.mailbox !== undefined && mailbox === undefined) {
    conflicts.push(
      `--mailbox ${flags.mailbox}: no such mailbox in ${file}; add it with mailrig user add ${flags.mailbox}${flags.passwordStdin ? ' --password-stdin' : ''}`,
    );
  }
  if (flags.passwordStdin) {
    if (mailbox === undefined) {
      if (flags.mailbox === undefined) conflicts.push(`--password-stdin: ${file} exists; set a mailbox's password with mailrig user passwd <address>`);
    } else {
      const password = await readStdinPassword();
      if (!(await verifyPassword(mailbox.passwordHash, password))) {
        conflicts.push(
          `--password-stdin: not the password ${file} has for ${displayAddress(mailbox.address)}; change it with mailrig user passwd ${displayAddress(mailbox.address)} --password-stdin`,
        );
      }
    }
  }
  return conflicts;
}
