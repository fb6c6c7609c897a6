// mailrig reports: the DMARC aggregate and TLS-RPT reports that arrived at the rua addresses
// mailrig publishes, read from their mailboxes over one SSH connection and summed up per domain.
// Reading only: nothing on the host changes, the messages stay where they are.
import { toAsciiDomain } from '../config/syntax.js';
import { RuntimeError, UsageError } from '../errors.js';
import type { Transport } from '../host/transport.js';
import { loadProject, type Project } from '../pipeline/project.js';
import { hostScript, parseHostListing, readMessages, reportAddresses } from '../reports/collect.js';
import { summarize, type ReportSummary } from '../reports/summary.js';
import { LIMITS } from '../reports/unpack.js';
import { openTransport, type HostOptions } from './apply.js';
import { formatColumns } from './table.js';

export interface ReportsOptions extends HostOptions {
  since?: string;
  json?: boolean;
  domain?: string;
}

/** A whole message larger than this is not fetched: the largest attachment read, base64 in lines, plus room. */
export const MAX_MESSAGE_BYTES = Math.ceil(LIMITS.attachmentBytes * 1.4) + 1024 * 1024;
const MAX_SINCE_DAYS = 3660;

/** --since: "7d", "12h", "2w" back from now, or a day YYYY-MM-DD (from its start, UTC). */
export function parseSince(value: string, now: Date): Date {
  const rel = /^(\d{1,5})([hdw])$/.exec(value);
  if (rel) {
    const n = Number(rel[1]);
    const hours = n * (rel[2] === 'h' ? 1 : rel[2] === 'd' ? 24 : 24 * 7);
    if (n === 0 || hours > MAX_SINCE_DAYS * 24) throw new UsageError(`--since ${value}: give a period of 1h to ${MAX_SINCE_DAYS}d`);
    return new Date(now.getTime() - hours * 3600 * 1000);
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) {
    const date = new Date(`${value}T00:00:00Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) throw new UsageError(`--since ${value}: not a calendar date`);
    if (date.getTime() > now.getTime()) throw new UsageError(`--since ${value}: a day in the future`);
    return date;
  }
  throw new UsageError(`--since ${value}: not a period like 7d, 12h or 2w, nor a day YYYY-MM-DD`);
}

export type HostReader = (project: Project, opts: HostOptions, script: string) => Promise<string>;

const readOverSsh: HostReader = async (project, opts, script) => {
  const host: Transport = await openTransport(project, opts);
  try {
    const r = await host.exec('sh -s', { stdin: script, sudo: true, timeoutMs: 300_000 });
    if (r.code !== 0) throw new RuntimeError(`${host.target}: reading the report mailboxes failed (exit ${r.code})`, r.stderr.trim().split('\n').slice(-8).join('\n'));
    return r.stdout;
  } finally {
    await host.close();
  }
};

export interface ReportsIo {
  out(text: string): void;
  warn(text: string): void;
  now(): Date;
}

const defaultIo: ReportsIo = {
  out: (t) => process.stdout.write(t),
  warn: (t) => process.stderr.write(`mailrig: warning: ${t}\n`),
  now: () => new Date(),
};

export async function runReports(opts: ReportsOptions, io: ReportsIo = defaultIo, read: HostReader = readOverSsh): Promise<number> {
  const since = parseSince(opts.since ?? '7d', io.now());
  const project = await loadProject(opts.config);
  const { config } = project;
  let domain: string | undefined;
  if (opts.domain !== undefined) {
    domain = toAsciiDomain(opts.domain);
    if (!domain || !config.domains.some((d) => d.name === domain)) throw new UsageError(`--domain ${opts.domain}: not a mail domain of this server`);
  }
  const addresses = reportAddresses(config);
  const mailboxes = [...new Set(addresses.flatMap((a) => a.mailboxes))];
  const warnings: string[] = [];
  for (const a of addresses.filter((x) => x.mailboxes.length === 0)) {
    warnings.push(`${a.address} (${a.purposes.join(', ')}) is not delivered to a mailbox on this server; reports sent there are not read here`);
  }
  if (mailboxes.length === 0) {
    throw new UsageError(
      `${project.configPath}: no report address is delivered to a mailbox on this server (${addresses.map((a) => a.address).join(', ')}); ` +
        'make admin_email (TLS reports) and domains.<domain>.dmarc.rua (DMARC reports) a mailbox here or an alias of one',
    );
  }
  const listing = parseHostListing(await read(project, opts, hostScript(mailboxes, since.getTime() / 1000, MAX_MESSAGE_BYTES)));
  // In path order, so that warnings come in the same order on every run.
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const read_ = readMessages(listing.messages.sort(byPath), LIMITS, listing.oversized.sort(byPath), MAX_MESSAGE_BYTES);
  const summary = summarize({ ...read_, warnings: [...warnings, ...read_.warnings] }, { since, mailboxes, domain });
  for (const w of summary.warnings) io.warn(w);
  io.out(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return 0;
}

export function formatSummary(s: ReportSummary): string {
  const lines: string[] = [`Reports received since ${s.since.slice(0, 16).replace('T', ' ')} UTC in ${s.mailboxes.join(', ')}`];
  if (s.dmarc.length === 0 && s.tls.length === 0) {
    lines.push('', 'No DMARC or TLS reports.');
    return `${lines.join('\n')}\n`;
  }
  for (const d of s.dmarc) {
    lines.push('', `DMARC ${d.domain}: ${d.reports} report${d.reports === 1 ? '' : 's'}, ${d.messages} message${d.messages === 1 ? '' : 's'} (${d.passed} passed, ${d.failed} failed)`);
    const table = formatColumns(
      ['SOURCE IP', 'MESSAGES', 'FROM', 'SPF', 'DKIM', 'DMARC', 'DISPOSITION', 'REPORTED BY'],
      d.sources.map((x) => [x.ip, String(x.count), x.headerFrom ?? '-', x.spf, x.dkim, x.dmarc, x.disposition, x.reporters.join(', ')]),
    );
    lines.push(...table.trimEnd().split('\n').map((l) => `  ${l}`));
  }
  if (s.dmarc.length === 0) lines.push('', 'DMARC: no reports.');
  for (const d of s.tls) {
    lines.push('', `TLS ${d.domain}: ${d.reports} report${d.reports === 1 ? '' : 's'}, ${d.successful} session${d.successful === 1 ? '' : 's'} ok, ${d.failed} failed`);
    if (d.failures.length === 0) continue;
    const table = formatColumns(
      ['REPORTED BY', 'FAILURE', 'SENDING MTA', 'RECEIVING MX', 'SESSIONS'],
      d.failures.map((f) => [f.reporter, f.type, f.sendingMta ?? '-', f.receivingMx ?? '-', String(f.count)]),
    );
    lines.push(...table.trimEnd().split('\n').map((l) => `  ${l}`));
  }
  if (s.tls.length === 0) lines.push('', 'TLS: no reports.');
  return `${lines.join('\n')}\n`;
}
