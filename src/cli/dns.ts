// mailrig dns: the records to publish (table, BIND, JSON), --check against live DNS, and push
// (RFC 2136 with TSIG). Every function resolves to the exit code; typed errors go to main's handler.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { toAsciiDomain, toUnicodeDomain } from '../config/syntax.js';
import { RuntimeError, UsageError } from '../errors.js';
import { publicKeys } from '../keys/store.js';
import { formatBindLines, formatZoneFile, zonesOf } from '../dns/bind.js';
import { formatJson } from '../dns/json.js';
import { buildRecords } from '../dns/records.js';
import type { DnsResolver } from '../dns/resolver.js';
import { formatTable } from '../dns/table.js';
import type { DnsRecord } from '../dns/types.js';
import type { Server } from '../dns/wire.js';
import { loadProject, type Project } from '../pipeline/project.js';
import { askYesNo } from './confirm.js';

export const FORMATS = ['table', 'bind', 'json'] as const;
export type DnsFormat = (typeof FORMATS)[number];

export interface DnsOptions {
  config: string;
  format?: DnsFormat;
  /** Only the records of this zone (a mail domain, or the host's zone); Unicode accepted. */
  domain?: string;
  /** With bind: a complete zone file for this zone. */
  zone?: string;
  /** With --zone: the zone's name servers (placeholders otherwise). */
  ns?: string[];
  /** With --zone: the SOA serial (default: today as YYYYMMDD00). */
  serial?: string;
  check?: boolean;
  /** With --check: machine-readable findings. */
  json?: boolean;
  /** With --check: ask this resolver (IP[:port]) instead of the system's. */
  resolver?: string;
}

export interface DnsPushOptions {
  config: string;
  domain?: string;
  /** Push without asking (required when stdin is not a terminal). */
  yes?: boolean;
  /** Show the changes and stop. */
  dryRun?: boolean;
}

/** Where output goes and what the user is asked; tests inject their own. */
export interface DnsIo {
  out: (text: string) => void;
  columns: number;
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  /** Replaces the resolver --check would use. */
  resolver?: DnsResolver;
  /** A loaded project instead of reading opts.config. */
  project?: Project;
}

function defaultIo(): DnsIo {
  return {
    out: (t) => process.stdout.write(t),
    columns: process.stdout.isTTY ? process.stdout.columns : 100,
    interactive: process.stdin.isTTY === true,
    confirm: askYesNo,
  };
}

function onlyZone(records: DnsRecord[], domain: string | undefined, flag: string): DnsRecord[] {
  if (domain === undefined) return records;
  const zone = toAsciiDomain(domain);
  const zones = zonesOf(records);
  if (zone === undefined || !zones.includes(zone)) {
    throw new UsageError(`${flag} ${domain}: not one of the zones mailrig writes records for (${zones.map(toUnicodeDomain).join(', ')})`);
  }
  return records.filter((r) => r.zone === zone);
}

async function records(opts: { config: string }, io: DnsIo): Promise<{ project: Project; records: DnsRecord[] }> {
  const project = io.project ?? (await loadProject(opts.config));
  return { project, records: buildRecords(project.config, publicKeys(project.keys)) };
}

function todaySerial(now = new Date()): number {
  return Number(`${now.toISOString().slice(0, 10).replace(/-/g, '')}00`);
}

/** mailrig dns [--format table|bind|json] [--domain D] [--zone D [--ns NAME]… [--serial N]] | --check. */
export async function run(opts: DnsOptions, io: DnsIo = defaultIo()): Promise<number> {
  if (opts.check) return runCheck(opts, io);
  const format = opts.format ?? (opts.zone === undefined ? 'table' : 'bind');
  if (!FORMATS.includes(format)) throw new UsageError(`--format ${String(format)}: use one of ${FORMATS.join(', ')}`);
  if (opts.zone !== undefined && format !== 'bind') throw new UsageError('--zone prints a zone file: use it with --format bind');
  const { project, records: all } = await records(opts, io);
  const shown = onlyZone(all, opts.domain, '--domain');
  if (opts.zone !== undefined) {
    const zone = onlyZone(all, opts.zone, '--zone')[0]?.zone ?? opts.zone;
    const serial = opts.serial === undefined ? todaySerial() : Number(opts.serial);
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) throw new UsageError(`--serial ${opts.serial}: not a 32-bit serial number`);
    io.out(formatZoneFile(all, zone, { nameServers: opts.ns ?? [], hostmaster: project.config.adminEmail, serial }));
    return 0;
  }
  io.out(format === 'json' ? formatJson(shown) : format === 'bind' ? formatBindLines(shown) : formatTable(shown, io.columns));
  return 0;
}

/** mailrig dns --check [--resolver IP[:port]] [--json] [--domain D]: 1 when a required record is not ok. */
export async function runCheck(opts: DnsOptions, io: DnsIo = defaultIo()): Promise<number> {
  // Loaded only for --check and push: printing the records needs no DNS client.
  const { parseServer } = await import('../dns/wire.js');
  const { defaultResolver } = await import('../dns/resolver.js');
  const { checkExitCode, checkRecords, findingsJson, formatFindings } = await import('../dns/check.js');
  if (opts.resolver !== undefined && parseServer(opts.resolver) === undefined) {
    throw new UsageError(`--resolver ${opts.resolver}: expected IP or IP:port (IPv6 as [addr]:port)`);
  }
  const { records: all } = await records(opts, io);
  const wanted = onlyZone(all, opts.domain, '--domain');
  const resolver = io.resolver ?? defaultResolver(opts.resolver);
  const findings = await checkRecords(wanted, resolver);
  io.out(opts.json ? findingsJson(findings) : formatFindings(findings, resolver.description, io.columns));
  return checkExitCode(findings);
}

async function primaryServer(text: string): Promise<Server> {
  const { parseServer } = await import('../dns/wire.js');
  const parsed = parseServer(text);
  if (parsed === undefined) throw new UsageError(`dns.server ${text}: expected host[:port]`);
  if (isIP(parsed.host)) return parsed;
  try {
    return { ...parsed, host: (await lookup(parsed.host)).address };
  } catch (e) {
    throw new RuntimeError(`dns.server ${text}: cannot resolve ${parsed.host} (${(e as Error).message})`);
  }
}

/** mailrig dns push [--domain D] [--yes] [--dry-run]. */
export async function runPush(opts: DnsPushOptions, io: DnsIo = defaultIo()): Promise<number> {
  const { showServer } = await import('../dns/wire.js');
  const { serverResolver } = await import('../dns/resolver.js');
  const { formatPlan, pendingChanges, planPush, sendPlans } = await import('../dns/push.js');
  const { parseTsigKeyFile } = await import('../dns/tsig.js');
  const { project, records: all } = await records(opts, io);
  const dns = project.config.dns;
  if (dns.provider !== 'rfc2136') throw new UsageError('dns push needs dns.provider: rfc2136 in mailrig.yaml (with server, key_name, key_file)');
  const missing = (['server', 'keyName', 'keyFile'] as const).filter((k) => dns[k] === undefined);
  if (missing.length) throw new UsageError(`dns push needs ${missing.map((k) => `dns.${k.replace('N', '_n').replace('F', '_f')}`).join(', ')} in mailrig.yaml`);
  const keyPath = resolve(dirname(project.configPath), dns.keyFile ?? '');
  let keyText: string;
  try {
    keyText = readFileSync(keyPath, 'utf8');
  } catch (e) {
    throw new UsageError(`dns.key_file ${keyPath}: cannot read it (${(e as Error).message})`);
  }
  const key = parseTsigKeyFile(keyText, dns.keyName ?? '', keyPath);
  const server = await primaryServer(dns.server ?? '');
  const plans = await planPush(onlyZone(all, opts.domain, '--domain'), serverResolver([server], { recursion: false, tcp: true }));
  io.out(formatPlan(plans));
  if (pendingChanges(plans) === 0 || opts.dryRun) return 0;
  if (!opts.yes) {
    if (!io.interactive) throw new UsageError('dns push changes DNS: pass --yes to push without a terminal to confirm on');
    if (!(await io.confirm(`Send these changes to ${showServer(server)}?`))) {
      io.out('Nothing sent.\n');
      return 0;
    }
  }
  await sendPlans(plans, server, key, (line) => io.out(`${line}\n`));
  return 0;
}
