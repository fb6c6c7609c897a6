// mailrig migrate: copies a mailbox from another IMAP server into one of this server's, on the host,
// with Dovecot's own dsync over its imapc backend (`doveadm sync -1 -R`): every folder, flag and
// internal date, one way (nothing on the old server changes, nothing delivered here meanwhile is
// removed). dsync keeps the old server's UIDs, so a run that stops half-way and the next run after
// new mail arrived there copy only what is missing: no duplicates.
//
// The old server's password never appears on a command line: the per-run settings (with it) travel
// over SSH on the script's standard input into a 0700 directory under /run, which is removed when
// the run ends, however it ends.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Config, Release } from '../config/model.js';
import { loadConfig } from '../config/load.js';
import { displayAddress, isEmailAddress, toAsciiDomain } from '../config/syntax.js';
import { RuntimeError, UsageError } from '../errors.js';
import { shQuote, type Transport } from '../host/transport.js';
import type { HostOptions } from '../pipeline/host.js';
import { readStdinPassword } from './init.js';
import { defaultIo, lookUpMailbox, type AccountsIo } from './user.js';

export interface Source {
  host: string;
  port: number;
  /** imaps: TLS from the start; starttls: plain IMAP upgraded with STARTTLS (imap:// URLs). */
  tls: 'imaps' | 'starttls';
}

/** imaps://host[:port] or imap://host[:port] (STARTTLS) → the source, or a UsageError naming --from. */
export function parseSource(text: string): Source {
  const m = /^(imaps?):\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]\s]+)(?::(\d{1,5}))?\/?$/.exec(text);
  const tls = m?.[1] === 'imaps' ? 'imaps' : 'starttls';
  const host = m?.[2]?.replace(/^\[(.*)\]$/, '$1');
  const port = m?.[3] === undefined ? (tls === 'imaps' ? 993 : 143) : Number(m[3]);
  const hostOk = host !== undefined && (isIP(host) !== 0 || toAsciiDomain(host) !== undefined);
  if (!m || !hostOk || port < 1 || port > 65535) {
    throw new UsageError(`--from ${text}: not an IMAP server address (try imaps://imap.old.example or imaps://imap.old.example:993)`);
  }
  return { host: host.toLowerCase(), port, tls };
}

/** A login or password as a Dovecot setting value: one line, double-quoted. */
function confValue(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function checkLogin(login: string, what: string): string {
  if (login === '' || /[\0-\x1f\x7f]/.test(login) || login.length > 256) throw new UsageError(`${what}: one line of text, not empty`);
  return login;
}

/** The per-run settings: the server's own configuration, then where and how to reach the old server. */
export function migrationSettings(release: Release, source: Source, login: string, password: string): string {
  const lines = [
    '!include /etc/dovecot/dovecot.conf',
    `imapc_host = ${source.host}`,
    `imapc_port = ${source.port}`,
    `imapc_ssl = ${source.tls}`,
    `imapc_user = ${confValue(login)}`,
    `imapc_password = ${confValue(password)}`,
  ];
  // The system's CAs; a CA given with --ca-file is added by the script.
  lines.push('ssl_client_ca_dir = /etc/ssl/certs');
  if (release === 'debian-12') lines.push('imapc_ssl_verify = yes', 'imapc_features = rfc822.size fetch-headers', 'mail_prefetch_count = 20');
  else lines.push('ssl_client_require_valid_cert = yes');
  return `${lines.join('\n')}\n`;
}

/** The script run on the host (as root, from standard input): settings and CA in, dsync, clean up. */
export function migrationScript(address: string, settings: string, ca: string | undefined): string {
  const marker = (text: string) => {
    let m = 'MAILRIG_END';
    while (text.includes(m)) m += '_';
    return m;
  };
  const s = marker(settings);
  const c = ca === undefined ? '' : marker(ca);
  return [
    'set -u',
    'umask 077',
    'dir=$(mktemp -d /run/mailrig-migrate.XXXXXX) || exit 70',
    'trap \'rm -rf "$dir"\' EXIT',
    'pid=',
    // The connection gone, Ctrl-C, or TERM to this script: dsync is asked to stop, and what it
    // committed stays. One waiting on a server that has gone silent would wait minutes for its
    // timeout: after 10 s it is killed (a commit it had not finished is simply done again next time).
    'stop() { [ -n "$pid" ] || exit 130; kill -TERM "$pid" 2>/dev/null; i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done; kill -KILL "$pid" 2>/dev/null; }',
    "trap stop INT TERM HUP",
    // Dovecot 2.4 wants its config version before any other setting, the include too.
    `{ grep -m1 '^dovecot_config_version' /etc/dovecot/dovecot.conf; cat <<'${s}'`,
    settings.trimEnd(),
    s,
    '} > "$dir/migrate.conf"',
    // The CA is public, and Dovecot 2.3 opens it as the mail user: in a directory of its own that
    // user may read, beside settings it may not.
    ...(ca === undefined
      ? []
      : ['chmod 711 "$dir"', 'mkdir -m 755 "$dir/ca"', `cat > "$dir/ca/ca.pem" <<'${c}'`, ca.trimEnd(), c, 'chmod 644 "$dir/ca/ca.pem"', 'echo "ssl_client_ca_file = $dir/ca/ca.pem" >> "$dir/migrate.conf"']),
    // dsync reads the settings as root, then works as the mail user.
    `doveadm -c "$dir/migrate.conf" sync -1 -R -u ${shQuote(address)} imapc: &`,
    'pid=$!',
    // What to signal to stop the run (as a dropped connection does).
    'echo "$$" > "$dir/pid"',
    'wait "$pid"; code=$?',
    'exit $code',
    '',
  ].join('\n');
}

/** Messages in every folder of the mailbox, by doveadm; undefined if it cannot tell. */
export function parseMessageCount(text: string): number | undefined {
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /\bmessages=(\d+)/.exec(line);
    if (m) {
      total += Number(m[1]);
      seen = true;
    }
  }
  return seen ? total : undefined;
}

const countCommand = (address: string) => `doveadm mailbox status -u ${shQuote(address)} messages '*'`;

export interface MigrateOptions {
  config: string;
  from?: string;
  user?: string;
  passwordStdin?: boolean;
  caFile?: string;
  all?: string;
  acceptNewHostKey?: boolean;
  identity?: string;
  knownHosts?: string;
}

interface Job {
  address: string;
  login: string;
  password: string;
}

/** address,login rows (a header line address,login is allowed; # starts a comment). */
export function parseCsv(text: string, file: string, config: Config): Array<{ address: string; login: string }> {
  const rows: Array<{ address: string; login: string }> = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (i === 0 && cells[0]?.toLowerCase() === 'address') return;
    const where = `${file} line ${i + 1}`;
    if (cells.length !== 2 || !cells[0] || !cells[1]) throw new UsageError(`${where}: expected address,login`);
    const [address, login] = cells as [string, string];
    if (!isEmailAddress(address)) throw new UsageError(`${where}: ${address} is not an email address`);
    const full = address.toLowerCase();
    if (!config.domains.some((d) => d.mailboxes.some((m) => m.address === full))) throw new UsageError(`${where}: ${displayAddress(full)}: no such mailbox`);
    rows.push({ address: full, login: checkLogin(login, `${where}: login`) });
  });
  if (rows.length === 0) throw new UsageError(`--all ${file}: no address,login rows`);
  return rows;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export type TargetOpener = (config: Config, opts: Omit<HostOptions, 'config'>) => Promise<Transport>;

const openOverSsh: TargetOpener = async (config, opts) => (await import('./apply.js')).openTarget(config.server.ssh, opts);

export async function runMigrate(address: string | undefined, opts: MigrateOptions, io: AccountsIo = defaultIo(), open: TargetOpener = openOverSsh): Promise<number> {
  if (opts.from === undefined) throw new UsageError('--from: the old server, e.g. --from imaps://imap.old.example');
  const source = parseSource(opts.from);
  if (!opts.passwordStdin) throw new UsageError('--password-stdin: the old server password(s) come from standard input, never from an argument');
  if (io.interactive) throw new UsageError('--password-stdin: standard input is a terminal; pipe the password in');
  let ca: string | undefined;
  if (opts.caFile !== undefined) {
    try {
      ca = readFileSync(opts.caFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--ca-file ${opts.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!/-----BEGIN CERTIFICATE-----/.test(ca)) throw new UsageError(`--ca-file ${opts.caFile}: no PEM certificate in it`);
  }
  const { config } = loadConfig(resolve(opts.config));
  let jobs: Job[];
  if (opts.all !== undefined) {
    if (address !== undefined || opts.user !== undefined) throw new UsageError('--all reads addresses and logins from the file: give no ADDRESS and no --user');
    let text: string;
    try {
      text = readFileSync(opts.all, 'utf8');
    } catch (e) {
      throw new UsageError(`--all ${opts.all}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const rows = parseCsv(text, opts.all, config);
    const passwords = (await readAll(io.input)).split(/\r?\n/);
    if (passwords.at(-1) === '') passwords.pop();
    if (passwords.length !== rows.length || passwords.some((p) => p === '')) {
      throw new UsageError(`--password-stdin: expected ${rows.length} password line(s), one per row of ${opts.all} in its order; got ${passwords.length}`);
    }
    jobs = rows.map((r, i) => ({ ...r, password: passwords[i] ?? '' }));
  } else {
    if (address === undefined) throw new UsageError('ADDRESS: the mailbox to copy into (or --all FILE)');
    if (opts.user === undefined) throw new UsageError('--user: the login on the old server');
    const { mailbox, shown } = lookUpMailbox(opts.config, address);
    if (!mailbox) throw new UsageError(`${shown}: no such mailbox`);
    jobs = [{ address: mailbox.address, login: checkLogin(opts.user, '--user'), password: await readStdinPassword(io.input) }];
  }
  for (const j of jobs) if (/[\r\n\0]/.test(j.password)) throw new UsageError(`--password-stdin: the password for ${j.address} is not one line`);

  const { acceptNewHostKey, identity, knownHosts } = opts;
  const host = await open(config, { ...(acceptNewHostKey ? { acceptNewHostKey } : {}), ...(identity ? { identity } : {}), ...(knownHosts ? { knownHosts } : {}) });
  let failed = 0;
  try {
    for (const job of jobs) {
      const ok = await migrateOne(host, config.server.release, source, job, ca, io);
      if (!ok) failed++;
    }
  } finally {
    await host.close();
  }
  if (failed) throw new RuntimeError(`${failed} of ${jobs.length} mailbox(es) not fully copied; run the same command again to resume (nothing is copied twice)`);
  return 0;
}

async function count(host: Transport, address: string): Promise<number | undefined> {
  const r = await host.exec(countCommand(address), { sudo: true, timeoutMs: 60_000 });
  return r.code === 0 ? parseMessageCount(r.stdout) : undefined;
}

async function migrateOne(host: Transport, release: Release, source: Source, job: Job, ca: string | undefined, io: AccountsIo): Promise<boolean> {
  const shown = displayAddress(job.address);
  const before = (await count(host, job.address)) ?? 0;
  io.out(`${shown}: copying from ${source.host}:${source.port} as ${job.login} (${before} message(s) here before)\n`);
  const settings = migrationSettings(release, source, job.login, job.password);
  const run = host.exec('sh -s', { sudo: true, stdin: migrationScript(job.address, settings, ca), timeoutMs: 24 * 3600_000 });
  // Progress: the mailbox's message count, asked on the same connection every few seconds.
  let done = false;
  const progress = (async () => {
    let last = before;
    while (!done) {
      await new Promise((r) => setTimeout(r, 3000));
      if (done) break;
      const n = await count(host, job.address).catch(() => undefined);
      if (n !== undefined && n !== last) {
        io.out(`${shown}: ${n - before} copied so far\n`);
        last = n;
      }
    }
  })();
  const r = await run.finally(() => {
    done = true;
  });
  await progress;
  const after = (await count(host, job.address)) ?? before;
  if (r.code !== 0) {
    const why = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
    io.out(`${shown}: stopped after copying ${after - before} message(s) (doveadm exit ${r.code}${why ? `: ${why}` : ''})\n`);
    return false;
  }
  io.out(`${shown}: done, ${after - before} new message(s), ${after} in the mailbox\n`);
  return true;
}
