// Where reports arrive and how they are read: the rua addresses mailrig publishes (DMARC per
// domain, TLS-RPT admin_email) resolved to the local mailboxes that receive them, one shell
// script that prints those mailboxes' candidate messages in one SSH round trip, and the parsing
// of each message into reports or a warning naming it.
import type { Config } from '../config/model.js';
import { quote } from '../host/shell.js';
import { mailHome } from '../render/vmail.js';
import { parseAggregate, type AggregateReport } from './dmarc.js';
import { decodeWords, parseMessage, type MimePart } from './mime.js';
import { parseTlsReport, type TlsReport } from './tlsrpt.js';
import { LIMITS, mib, unpack } from './unpack.js';

export interface ReportAddress {
  address: string;
  /** What is reported there, e.g. "DMARC reports of example.com", "TLS reports". */
  purposes: string[];
  /** The local mailboxes mail to it lands in; empty when it is not delivered on this server. */
  mailboxes: string[];
}

/** The report addresses mailrig publishes in DNS, with the mailboxes that receive each. */
export function reportAddresses(config: Config): ReportAddress[] {
  const byAddress = new Map<string, ReportAddress>();
  const add = (address: string, purpose: string) => {
    const entry = byAddress.get(address) ?? { address, purposes: [], mailboxes: deliveredTo(config, address) };
    entry.purposes.push(purpose);
    byAddress.set(address, entry);
  };
  for (const d of config.domains) add(d.dmarc.rua, `DMARC reports of ${d.name}`);
  add(config.adminEmail, 'TLS reports');
  return [...byAddress.values()];
}

/** The local mailboxes mail to an address is delivered to: the mailbox, an alias's targets, or the catch-all. */
export function deliveredTo(config: Config, address: string, depth = 0): string[] {
  const domainName = address.slice(address.lastIndexOf('@') + 1);
  const domain = config.domains.find((d) => d.name === domainName);
  if (!domain || depth > 8) return [];
  const mailbox = domain.mailboxes.find((m) => m.address === address);
  if (mailbox) return mailbox.sendOnly ? [] : [address];
  const alias = domain.aliases.find((a) => a.address === address);
  const targets = alias ? alias.targets : domain.catchAll;
  return [...new Set(targets.flatMap((t) => deliveredTo(config, t, depth + 1)))];
}

/**
 * Prints, for each mailbox, every message file (all folders) received since `since` that mentions
 * a report type: "M <mailbox> <size> <path> <base64>" — or "B <mailbox> <size> <path> <base64 of its
 * first 16K>" for one too large to send (its headers name it in the warning), "X <mailbox>" when the
 * mailbox has no mail yet. Only reads; runs as root.
 */
export function hostScript(mailboxes: string[], since: number, maxMessageBytes: number): string {
  const lines = [
    'set -u',
    'export LC_ALL=C',
    `since=${Math.floor(since)}`,
    `cap=${maxMessageBytes}`,
    'scan() {',
    '  [ -d "$2" ] || { echo "X $1"; return; }',
    `  find "$2" -type f \\( -path '*/cur/*' -o -path '*/new/*' \\) -newermt "@$since" -printf '%s %p\\n' | while read -r size path; do`,
    `    grep -qiE 'report-domain|report domain|tlsrpt|application/(gzip|x-gzip|zip|x-zip|x-zip-compressed|xml|json|octet-stream)|text/xml' "$path" 2>/dev/null || continue`,
    '    if [ "$size" -gt "$cap" ]; then printf "B %s %s %s " "$1" "$size" "$path"; head -c 16384 "$path" | base64 -w0; echo; continue; fi',
    '    printf "M %s %s %s " "$1" "$size" "$path"; base64 -w0 < "$path"; echo',
    '  done',
    '}',
    ...mailboxes.map((m) => `scan ${quote(m)} ${quote(`${mailHome(m)}/Maildir`)}`),
  ];
  return `${lines.join('\n')}\n`;
}

export interface FetchedMessage {
  mailbox: string;
  /** The message file's path on the host. */
  path: string;
  data: Buffer;
}

export interface HostListing {
  messages: FetchedMessage[];
  /** Too large to fetch: only the start of each, for its headers. */
  oversized: Array<{ mailbox: string; path: string; size: number; head: Buffer }>;
  /** Mailboxes with no Maildir yet (nothing delivered). */
  empty: string[];
}

export function parseHostListing(stdout: string): HostListing {
  const listing: HostListing = { messages: [], oversized: [], empty: [] };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('X ')) listing.empty.push(line.slice(2));
    const m = /^([MB]) (\S+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [, kind, mailbox = '', size = '0', rest = ''] = m;
    const space = rest.lastIndexOf(' ');
    const path = rest.slice(0, space);
    const data = Buffer.from(rest.slice(space + 1), 'base64');
    if (kind === 'B') listing.oversized.push({ mailbox, path, size: Number(size), head: data });
    else listing.messages.push({ mailbox, path, data });
  }
  return listing;
}

export interface ReadResult {
  dmarc: AggregateReport[];
  tls: TlsReport[];
  warnings: string[];
}

/** "Subject" <message-id> in mailbox (file name), the way a warning names a message. */
export function describeMessage(mailbox: string, path: string, headers: Map<string, string>): string {
  const subject = headers.get('subject');
  const id = headers.get('message-id');
  const file = path.slice(path.lastIndexOf('/') + 1);
  return `message ${subject ? `"${decodeWords(subject).slice(0, 120)}" ` : ''}${id ? `${id} ` : ''}in ${mailbox} (${file})`;
}

const SKIPPED_TYPES = new Set(['text/plain', 'text/html', 'message/delivery-status', 'text/rfc822-headers', 'message/rfc822']);

/** Whether a part can hold a report: compressed data, XML or JSON by type, name or content. */
function candidate(part: MimePart): boolean {
  if (!SKIPPED_TYPES.has(part.contentType)) return true;
  return part.filename !== undefined && /\.(xml|json|gz|zip)$/i.test(part.filename);
}

export function readMessages(messages: FetchedMessage[], limits = LIMITS, oversized: HostListing['oversized'] = [], maxMessageBytes = 0): ReadResult {
  const result: ReadResult = { dmarc: [], tls: [], warnings: [] };
  for (const big of oversized) {
    const { headers } = parseMessage(big.head);
    result.warnings.push(`${describeMessage(big.mailbox, big.path, headers)}: skipped, ${mib(big.size)} is more than the ${mib(maxMessageBytes)} mailrig fetches`);
  }
  for (const msg of messages) {
    const parsed = parseMessage(msg.data);
    const who = describeMessage(msg.mailbox, msg.path, parsed.headers);
    let found = 0;
    const problems: string[] = [];
    for (const part of parsed.parts.filter(candidate)) {
      const name = part.filename ?? part.contentType;
      try {
        for (const doc of unpack(part.body, name, limits)) {
          const text = doc.text.replace(/^\uFEFF/, '').trimStart();
          if (text.startsWith('<')) result.dmarc.push(parseAggregate(text));
          else if (text.startsWith('{')) result.tls.push(parseTlsReport(text));
          else throw new Error(`${doc.name} is neither XML nor JSON`);
          found++;
        }
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
      }
    }
    for (const p of problems) result.warnings.push(`${who}: skipped ${p}`);
    if (found === 0 && problems.length === 0 && looksLikeReport(parsed.headers)) result.warnings.push(`${who}: no report attachment found`);
  }
  return result;
}

function looksLikeReport(headers: Map<string, string>): boolean {
  return headers.has('tls-report-domain') || /report.domain/i.test(headers.get('subject') ?? '');
}
