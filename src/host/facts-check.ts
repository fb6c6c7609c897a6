// The facts `mailrig check` reads from inside the host, in the same single round trip as the plan's
// facts (facts.ts): one script with a section per fact, and one parser per section, each tested on
// output recorded from real hosts (test/fixtures/check-facts/). Read-only: nothing here changes the
// host, not even the apt lists (security updates are reported as of the last `apt-get update`).
import { readSections, sectionHeader } from './sections.js';
import { quote } from './shell.js';
import { POSTFIX_LOG } from '../render/postfix.js';
import { RELAY_LOG_NAME } from '../render/relay.js';
import { RESOLV_CONF, RESOLVER_ADDRESS, RESOLVER_PORT } from '../render/unbound.js';
import { dnsProbeScript, parseDnsProbe, type DnsProbe } from './dns-probe.js';

/** Closes the last section, so whatever the round trip prints after this script is not read as part of it. */
const END = sectionHeader('check', 'end');

export interface ListeningSocket {
  /** As ss shows it, without brackets or %interface: "0.0.0.0", "::", "127.0.0.1", "*". */
  address: string;
  port: number;
  /** Process name, when ss could tell (it can as root). */
  process: string | undefined;
}

export interface QueueFacts {
  total: number;
  deferred: number;
  /** Arrival time (epoch seconds) of the oldest deferred message. */
  oldestDeferred: number | undefined;
  /** postqueue did not answer (Postfix not installed or not running). */
  unavailable: boolean;
}

export interface DiskFacts {
  mount: string;
  sizeBytes: number;
  availableBytes: number;
}

export interface AptFacts {
  /** Upgradable packages from a -security suite, "name version". */
  security: string[];
  /** Other upgradable packages. */
  other: number;
  /** When the apt lists were last downloaded (epoch seconds), undefined when never. */
  listsUpdated: number | undefined;
}

/**
 * How an outbound connection attempt ended: an SMTP greeting; no answer within the timeout or no
 * route (what a provider's port-25 block looks like); the name did not resolve; a refusal (a reset
 * or ICMP reject: a firewall on the way, or nobody listening); anything else.
 */
export type OutboundOutcome = 'ok' | 'blocked' | 'no-dns' | 'refused' | 'error';

export interface OutboundProbe {
  /** host:port as given. */
  target: string;
  connected: boolean;
  outcome: OutboundOutcome;
  /** The greeting line (on success) or the error (on failure). */
  detail: string;
}

export interface CheckFacts {
  /** The host's clock, epoch seconds. */
  now: number;
  listening: ListeningSocket[];
  queue: QueueFacts;
  disks: DiskFacts[];
  memory: { totalBytes: number; availableBytes: number } | undefined;
  apt: AptFacts;
  reboot: { required: boolean; packages: string[] };
  /** `sshd -T` settings, keys lower-case; empty when sshd could not print them. */
  sshd: Record<string, string>;
  /** PEM of the installed certificate chain, empty when absent. */
  installedCertificate: string;
  outbound: OutboundProbe[];
  /** The relay transports' delivery lines from Postfix's log (the newest last), for the relay checks. */
  relayLog: string[];
  /** /etc/resolv.conf's nameserver and options lines. */
  resolvConf: string[];
  /** The host's own query to its resolver (127.0.0.1:53). */
  resolver: DnsProbe;
  /** The host's UTC offset in minutes (its log times are local). */
  utcOffsetMinutes: number;
  /**
   * smtp(8)'s TLS and delivery lines from Postfix's log, shortened on the host to tab-separated
   * fields: "time pid tls kind relay" or "time pid sent queue-id relay conn-use" (see SMTP_TLS_SED).
   */
  smtpTlsLog: string[];
}

export interface CheckFactsQuery {
  /** Paths whose file systems to report (df). */
  mounts: string[];
  certificatePath: string;
  /** host:port targets to open a TCP connection to from the host (outbound port 25). */
  outbound: string[];
  /** The name the host asks its own resolver for (the mail host name). */
  resolverProbe?: string;
}

const STAMP = '([A-Z][a-z]{2} +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2})';
/**
 * Reduces postfix/smtp lines (not the relays' postfix/smarthost) to what the outbound TLS count needs,
 * so a busy day's log crosses the connection as a few bytes per line: the TLS session lines
 * (smtp_tls_loglevel 1), and the deliveries that were sent.
 */
export const SMTP_TLS_SED = [
  String.raw`s/^${STAMP} [^ ]+ postfix\/smtp\[([0-9]+)\]: (Verified|Trusted|Untrusted|Anonymous) TLS connection established to ([^ ]+): .*/\1\t\2\ttls\t\3\t\4/p`,
  String.raw`s/^${STAMP} [^ ]+ postfix\/smtp\[([0-9]+)\]: ([0-9A-Za-z]+): to=<[^>]*>,( orig_to=<[^>]*>,)? relay=([^ ,]+),( conn_use=([0-9]+),)? .*status=sent .*/\1\t\2\tsent\t\3\t\5\t\7/p`,
].join('; ');

function outboundProbe(target: string): string {
  const i = target.lastIndexOf(':');
  const host = (i > 0 ? target.slice(0, i) : target).replace(/^\[(.*)\]$/, '$1');
  const port = i > 0 ? target.slice(i + 1) : '25';
  // bash's /dev/tcp connects; reading one line proves an SMTP server answered, not just a middlebox.
  const probe = `exec 3<>/dev/tcp/${host}/${port} && IFS= read -r line <&3 && printf '%s' "$line"`;
  const clean = `r=$(printf '%s' "$r" | tr -s '\\r\\n\\t' '   ' | head -c 200)`;
  return `( r=$(timeout 8 bash -c ${quote(probe)} 2>&1); c=$?; ${clean}; printf '%s\\t%s\\t%s\\n' ${quote(target)} "$c" "$r" ) &`;
}

/** Shell that tries every target at once and prints one "target\texit\tgreeting-or-error" line each (parseOutbound). */
export function outboundProbesScript(targets: string[]): string {
  return `( ${targets.map(outboundProbe).join(' ')} wait )`;
}

/** The script (run as root, POSIX sh) that prints every section; end it before other scripts' sections. */
export function checkFactsScript(q: CheckFactsQuery): string {
  const s = (name: string) => `echo '${sectionHeader('check', name)}'`;
  return [
    'export LC_ALL=C',
    `${s('now')}; date +%s`,
    // Outbound probes run in the background while the rest is gathered.
    `${s('outbound')}`,
    `tmp_out=$(mktemp); ${outboundProbesScript(q.outbound)} >"$tmp_out" 2>/dev/null &`,
    `out_pid=$!`,
    `${s('listening')}; ss -Hltnp 2>/dev/null || ss -ltnp 2>/dev/null | tail -n +2`,
    `${s('queue')}; postqueue -j 2>/dev/null || echo unavailable`,
    `${s('disks')}; df -P -B1 ${q.mounts.map(quote).join(' ')} 2>/dev/null | tail -n +2`,
    `${s('memory')}; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo`,
    `${s('apt-security')}; apt list --upgradable 2>/dev/null | grep -F '[upgradable from' || true`,
    `${s('apt-lists')}; ls -t --time-style=+%s -l /var/lib/apt/lists/ 2>/dev/null | grep -E '_(In)?Release$' | head -n 1 | awk '{print $6}'`,
    `${s('reboot')}; if [ -f /var/run/reboot-required ]; then echo required; cat /var/run/reboot-required.pkgs 2>/dev/null; fi; true`,
    `${s('sshd')}; sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin|permitemptypasswords|usepam) ' || true`,
    `${s('certificate')}; cat ${quote(q.certificatePath)} 2>/dev/null; true`,
    `${s('relay-log')}; grep -F '${RELAY_LOG_NAME}/' ${POSTFIX_LOG} 2>/dev/null | grep -E 'status=|SASL authentication failed' | tail -n 200; true`,
    `${s('resolv-conf')}; grep -E '^[[:space:]]*(nameserver|options)[[:space:]]' ${RESOLV_CONF} 2>/dev/null; true`,
    q.resolverProbe ? `${s('resolver')}; ${dnsProbeScript(q.resolverProbe, RESOLVER_ADDRESS, RESOLVER_PORT)}` : '',
    `${s('utc-offset')}; date +%z`,
    // The rotated log first (weekly, uncompressed for one rotation): the last 24 hours may span both.
    `${s('smtp-tls-log')}; cat ${POSTFIX_LOG}.1 ${POSTFIX_LOG} 2>/dev/null | sed -nE ${quote(SMTP_TLS_SED)} | tail -n 50000; true`,
    `wait "$out_pid"; ${s('outbound-results')}; cat "$tmp_out"; rm -f "$tmp_out"`,
    `echo '${END}'`,
    '',
  ].join('\n');
}

/** Splits "addr:port" as ss prints it: "0.0.0.0:25", "[::]:25", "*:25", "127.0.0.1%lo:53". */
export function splitAddressPort(text: string): { address: string; port: number } | undefined {
  const i = text.lastIndexOf(':');
  if (i < 0) return undefined;
  const port = Number(text.slice(i + 1));
  if (!Number.isInteger(port)) return undefined;
  const address = text.slice(0, i).replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  return { address, port };
}

/** `ss -Hltnp` lines: State Recv-Q Send-Q Local Peer [Process]. */
export function parseListening(lines: string[]): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'LISTEN') continue;
    const local = splitAddressPort(f[3] ?? '');
    if (!local) continue;
    const proc = /users:\(\("([^"]+)"/.exec(line)?.[1];
    out.push({ ...local, process: proc });
  }
  return out;
}

/** `postqueue -j`: one JSON object per message (Postfix ≥ 3.1). */
export function parseQueue(lines: string[]): QueueFacts {
  if (lines.length === 1 && lines[0] === 'unavailable') return { total: 0, deferred: 0, oldestDeferred: undefined, unavailable: true };
  let total = 0;
  let deferred = 0;
  let oldest: number | undefined;
  for (const line of lines) {
    let m: { queue_name?: unknown; arrival_time?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    total++;
    if (m.queue_name !== 'deferred') continue;
    deferred++;
    if (typeof m.arrival_time === 'number' && (oldest === undefined || m.arrival_time < oldest)) oldest = m.arrival_time;
  }
  return { total, deferred, oldestDeferred: oldest, unavailable: false };
}

/** `df -P -B1` data lines: Filesystem Size Used Avail Capacity Mounted-on. Duplicates dropped. */
export function parseDisks(lines: string[]): DiskFacts[] {
  const out = new Map<string, DiskFacts>();
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    const mount = f.slice(5).join(' ');
    const size = Number(f[1]);
    const avail = Number(f[3]);
    if (mount === '' || !Number.isFinite(size) || !Number.isFinite(avail)) continue;
    out.set(mount, { mount, sizeBytes: size, availableBytes: avail });
  }
  return [...out.values()];
}

export function parseMemory(lines: string[]): CheckFacts['memory'] {
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`).exec(lines.find((l) => l.startsWith(`${name}:`)) ?? '');
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  return total === undefined || available === undefined ? undefined : { totalBytes: total, availableBytes: available };
}

/** `apt list --upgradable` lines: "name/suite1,suite2 version arch [upgradable from: old]". */
export function parseApt(upgradable: string[], listsLines: string[]): AptFacts {
  const security: string[] = [];
  let other = 0;
  for (const line of upgradable) {
    const m = /^([^/\s]+)\/(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    if ((m[2] ?? '').split(',').some((s) => s.endsWith('-security') || s.endsWith('/updates'))) security.push(`${m[1]} ${m[3]}`);
    else other++;
  }
  const stamp = Number(listsLines[0]);
  return { security, other, listsUpdated: listsLines.length && Number.isFinite(stamp) && stamp > 0 ? stamp : undefined };
}

export function parseReboot(lines: string[]): CheckFacts['reboot'] {
  return { required: lines[0] === 'required', packages: [...new Set(lines.slice(1).map((l) => l.trim()))].filter((l) => l !== '') };
}

export function parseSshd(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (m) out[(m[1] ?? '').toLowerCase()] = (m[2] ?? '').trim().toLowerCase();
  }
  return out;
}

function outcomeOf(connected: boolean, code: string | undefined, detail: string): OutboundOutcome {
  if (connected) return 'ok';
  if (code === '124' || /network is unreachable|no route to host|timed out/i.test(detail)) return 'blocked';
  if (/name or service not known|temporary failure in name resolution|no address associated|name resolution/i.test(detail)) return 'no-dns';
  if (/connection refused|connection reset/i.test(detail)) return 'refused';
  return 'error';
}

/** "target\texit\tgreeting-or-error" per probe. */
export function parseOutbound(lines: string[]): OutboundProbe[] {
  return lines.flatMap((line) => {
    const [target, code, ...rest] = line.split('\t');
    if (!target) return [];
    const detail = rest.join('\t').trim();
    const connected = code === '0' && /^\d{3}[ -]/.test(detail);
    return [{ target, connected, outcome: outcomeOf(connected, code, detail), detail: detail || (code === '124' ? 'timed out' : `exit ${code ?? '?'}`) }];
  });
}

/** `date +%z`: "+0100", "-0530" → minutes east of UTC. */
export function parseUtcOffset(text: string): number {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(text.trim());
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

export function parseCheckFacts(output: string): CheckFacts {
  const s = readSections(output, 'check');
  const get = (name: string) => s.get(name) ?? [];
  return {
    now: Number(get('now')[0] ?? Math.floor(Date.now() / 1000)),
    listening: parseListening(get('listening')),
    queue: parseQueue(get('queue')),
    disks: parseDisks(get('disks')),
    memory: parseMemory(get('memory')),
    apt: parseApt(get('apt-security'), get('apt-lists')),
    reboot: parseReboot(get('reboot')),
    sshd: parseSshd(get('sshd')),
    installedCertificate: get('certificate').join('\n'),
    outbound: parseOutbound(get('outbound-results')),
    relayLog: get('relay-log'),
    resolvConf: get('resolv-conf').map((l) => l.trim()),
    resolver: s.has('resolver') ? parseDnsProbe(get('resolver')) : { answered: false, rcode: undefined, authenticated: false, error: 'not asked' },
    utcOffsetMinutes: parseUtcOffset(get('utc-offset')[0] ?? ''),
    smtpTlsLog: get('smtp-tls-log'),
  };
}
