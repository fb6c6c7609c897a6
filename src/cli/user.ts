// mailrig user add|rm|passwd|quota|list: mailboxes in mailrig.yaml, edited in place (comments kept),
// validated as a whole before anything is written. Also the pieces alias.ts and domain.ts share.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { addMailbox, parseAddress, removeMailbox, saveEdit, saveWithHash, setPasswordHash, setQuota, validateEdit } from '../config/edit.js';
import { loadConfig, parseConfig, readConfigFile } from '../config/load.js';
import type { Config, Mailbox } from '../config/model.js';
import { writeAtomic } from '../fs/atomic.js';
import { withProjectLock } from '../fs/lock.js';
import { displayAddress, parseSize, toAsciiDomain } from '../config/syntax.js';
import { KeyStoreError, UsageError } from '../errors.js';
import { hashPassword, passwordWeakness } from '../keys/password.js';
import { pendingPath, readPending, writePending } from '../keys/pending.js';
import { readStdinPassword } from './init.js';
import { formatColumns, formatSize } from './table.js';
import { askYesNo } from './confirm.js';
import { readUsageOverSsh, type Usage, type UsageReader } from './usage.js';

/** Where output goes and where answers come from; tests inject their own. */
export interface AccountsIo {
  out: (text: string) => void;
  input: Readable;
  output: Writable;
  /** Whether `input` is a terminal a person can answer on. */
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  now: () => Date;
}

export function defaultIo(): AccountsIo {
  return {
    out: (t) => process.stdout.write(t),
    input: process.stdin,
    output: process.stdout,
    interactive: process.stdin.isTTY === true,
    confirm: askYesNo,
    now: () => new Date(),
  };
}

export interface CommonOptions {
  config: string;
  apply?: boolean;
  yes?: boolean;
}

/** --apply: hands over to the normal plan/apply path, after the config is written. */
export async function applyIfAsked(opts: CommonOptions, io: AccountsIo): Promise<number> {
  if (!opts.apply) {
    io.out('Next: mailrig apply puts this change on the server (or pass --apply).\n');
    return 0;
  }
  const { runApply } = await import('./apply.js');
  await runApply({ config: opts.config, ...(opts.yes ? { yes: true } : {}) });
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** The project file as read now, and the mailbox an ADDRESS argument names (undefined when absent). */
export interface MailboxLookup {
  path: string;
  text: string;
  config: Config;
  doc: ReturnType<typeof parseConfig>['doc'];
  /** The address in full, lower-case, ASCII domain. */
  full: string;
  /** The address as people write it. */
  shown: string;
  mailbox: Mailbox | undefined;
}

export function lookUpMailbox(configFile: string, address: string): MailboxLookup {
  const path = resolve(configFile);
  const text = readConfigFile(path);
  const { config, doc } = parseConfig(text, path);
  const a = parseAddress(address);
  const full = `${a.local}@${a.domain}`;
  const mailbox = config.domains.flatMap((d) => d.mailboxes).find((m) => m.address === full);
  return { path, text, config, doc, full, shown: displayAddress(full), mailbox };
}

/** As lookUpMailbox, but a mailbox that is not in the project is a usage error. */
export function requireMailbox(configFile: string, address: string): MailboxLookup & { mailbox: Mailbox } {
  const found = lookUpMailbox(configFile, address);
  if (!found.mailbox) throw new UsageError(`${found.shown}: no such mailbox`);
  return { ...found, mailbox: found.mailbox };
}

// ---- passwords -----------------------------------------------------------------------------------

export interface PasswordOptions {
  passwordStdin?: boolean;
  allowWeak?: boolean;
}

/** A new password: from standard input, or typed twice (hidden) on a terminal; weak ones refused. */
export async function newPassword(opts: PasswordOptions, io: AccountsIo, label: string): Promise<string> {
  const weak = (p: string) => (opts.allowWeak ? undefined : passwordWeakness(p));
  if (opts.passwordStdin) {
    if (io.interactive) throw new UsageError('--password-stdin: standard input is a terminal; pipe the password in');
    const password = await readStdinPassword(io.input);
    const reason = weak(password);
    if (reason) throw new UsageError(`the password ${reason}; choose a stronger one (or pass --allow-weak)`);
    return password;
  }
  if (!io.interactive) throw new UsageError('no terminal to ask for the password on; pipe it in with --password-stdin');
  const { default: inquirer } = await import('inquirer');
  const prompt = inquirer.createPromptModule({ input: io.input, output: io.output });
  const ask = async (message: string, validate?: (v: string) => string | true) => {
    const r = (await prompt([{ type: 'password', mask: '*', name: 'value', message, validate }] as never)) as { value: unknown };
    return String(r.value ?? '');
  };
  for (;;) {
    const first = await ask(`Password for ${label}`, (v) => {
      const reason = weak(v);
      return reason ? `The password ${reason}` : true;
    });
    if ((await ask('The same password again')) === first) return first;
    io.output.write('The two passwords differ; type it again.\n');
  }
}

// ---- commands ------------------------------------------------------------------------------------

export interface UserAddOptions extends CommonOptions, PasswordOptions {
  quota?: string;
  sendOnly?: boolean;
  alias?: string[];
}

function checkSize(size: string, flag: string): void {
  if (parseSize(size) === undefined) throw new UsageError(`${flag} ${size}: not a size (try 10G, 500M, or 0 for unlimited)`);
}

const PLACEHOLDER_HASH = '{ARGON2ID}placeholder';

export async function runUserAdd(address: string, opts: UserAddOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  const { doc } = parseConfig(text, path);
  if (opts.quota !== undefined) checkSize(opts.quota, '--quota');
  const spec = { quota: opts.quota, sendOnly: opts.sendOnly, aliases: (opts.alias ?? []).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean) };
  // Everything but the password is checked first, so nobody types a password for a rejected edit.
  const draft = addMailbox(text, address, { ...spec, passwordHash: PLACEHOLDER_HASH }, doc);
  validateEdit(path, draft);
  const password = await newPassword(opts, io, displayAddress(address));
  const hash = await hashPassword(password);
  // The password is asked for and hashed outside the project lock; the edit is made again under it,
  // on the file as it is then.
  return withProjectLock(path, async () => {
    const now = readConfigFile(path);
    if (now === text) saveWithHash(path, draft, addMailbox(text, address, { ...spec, passwordHash: hash }, doc), PLACEHOLDER_HASH, hash);
    else saveEdit(path, addMailbox(now, address, { ...spec, passwordHash: hash }, parseConfig(now, path).doc));
    return userAdded(path, address, opts, io);
  });
}

async function userAdded(path: string, address: string, opts: UserAddOptions, io: AccountsIo): Promise<number> {
  const a = parseAddress(address);
  const shown = displayAddress(`${a.local}@${a.domain}`);
  io.out(`Added ${shown} to ${opts.config}${opts.sendOnly ? ' (send-only)' : ''}.\n`);
  const pending = existsSync(pendingPath(path)) ? readPending(path) : undefined;
  if (pending?.purge.some((p) => p.address === `${a.local}@${a.domain}`)) {
    writePending(path, { ...pending, purge: pending.purge.filter((p) => p.address !== `${a.local}@${a.domain}`) });
    io.out(`Cancelled the pending deletion of ${shown}'s stored mail: the mailbox keeps it.\n`);
  }
  return applyIfAsked(opts, io);
}

export interface UserRmOptions extends CommonOptions {
  purge?: boolean;
}

export async function runUserRm(address: string, opts: UserRmOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const { path, text, doc, full, shown, mailbox } = lookUpMailbox(opts.config, address);
  const exists = mailbox !== undefined;
  if (!exists && !opts.purge) throw new UsageError(`${shown}: no such mailbox`);
  // Removing first checks that nothing else still points at the mailbox (aliases, catch-all).
  const edited = exists ? removeMailbox(text, address, doc) : undefined;
  if (edited !== undefined) validateEdit(path, edited);
  if (opts.purge && !opts.yes) {
    if (!io.interactive) throw new UsageError('--purge deletes stored mail for good: add --yes to confirm without a terminal');
    if (!(await io.confirm(`Delete all mail stored for ${shown} on the server? This cannot be undone.`))) {
      io.out('Nothing changed.\n');
      return 0;
    }
  }
  if (edited !== undefined) {
    writeAtomic(path, edited); // validated above
    io.out(`Removed ${shown} from ${opts.config}.\n`);
  }
  if (opts.purge) {
    const pending = readPending(path);
    if (!pending.purge.some((p) => p.address === full)) pending.purge.push({ address: full, requestedAt: io.now().toISOString() });
    writePending(path, pending);
    io.out(
      `The mail stored for ${shown} is deleted on the server at apply time: the request is recorded in .mailrig/pending.json\n` +
        'until an apply carries it out; until then the mail is still there.\n',
    );
  } else {
    io.out(`The mail stored for ${shown} stays on the server; mailrig user rm ${shown} --purge deletes it.\n`);
  }
  return applyIfAsked(opts, io);
}

export async function runUserPasswd(address: string, opts: CommonOptions & PasswordOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  const { doc } = parseConfig(text, path);
  const draft = setPasswordHash(text, address, PLACEHOLDER_HASH, doc);
  validateEdit(path, draft);
  const shown = displayAddress(address);
  const password = await newPassword(opts, io, shown);
  const hash = await hashPassword(password);
  return withProjectLock(path, async () => {
    const now = readConfigFile(path);
    if (now === text) saveWithHash(path, draft, setPasswordHash(text, address, hash, doc), PLACEHOLDER_HASH, hash);
    else saveEdit(path, setPasswordHash(now, address, hash, parseConfig(now, path).doc));
    io.out(`Changed the password of ${shown} in ${opts.config}.\n`);
    return applyIfAsked(opts, io);
  });
}

export async function runUserQuota(address: string, size: string, opts: CommonOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  const { doc } = parseConfig(text, path);
  const quota = size === 'default' ? undefined : size;
  if (quota !== undefined) checkSize(quota, 'SIZE');
  const edited = setQuota(text, address, quota, doc);
  const shown = displayAddress(address);
  if (edited === text) {
    io.out(`${shown} already has that quota; nothing changed.\n`);
    return 0;
  }
  const { config } = saveEdit(path, edited);
  const bytes = config.domains.flatMap((d) => d.mailboxes).find((m) => m.address === `${parseAddress(address).local}@${parseAddress(address).domain}`)?.quota ?? 0;
  io.out(`Set the quota of ${shown} to ${formatSize(bytes)}${quota === undefined ? ' (mail.default_quota)' : ''} in ${opts.config}.\n`);
  return applyIfAsked(opts, io);
}

export interface ListOptions {
  config: string;
  json?: boolean;
  domain?: string;
  /** Ask the host how full each mailbox is (one `doveadm quota get -A` over SSH). */
  usage?: boolean;
  acceptNewHostKey?: boolean;
  identity?: string;
  knownHosts?: string;
}

export async function runUserList(opts: ListOptions, io: AccountsIo = defaultIo(), readUsage: UsageReader = readUsageOverSsh): Promise<number> {
  const { config, raw } = loadConfig(resolve(opts.config));
  const only = opts.domain === undefined ? undefined : toAsciiDomain(opts.domain);
  if (opts.domain !== undefined && !config.domains.some((d) => d.name === only)) {
    throw new UsageError(`--domain ${opts.domain}: not a mail domain of this server`);
  }
  const explicit = new Set(
    Object.entries(raw.domains).flatMap(([key, d]) =>
      Object.entries(d.mailboxes)
        .filter(([, m]) => m.quota !== undefined)
        .map(([local]) => `${local.toLowerCase()}@${toAsciiDomain(key) ?? key}`),
    ),
  );
  const rows = config.domains
    .filter((d) => only === undefined || d.name === only)
    .flatMap((d) => d.mailboxes)
    .map((m) => ({
      address: m.address,
      unicode: displayAddress(m.address),
      domain: m.domain,
      quota: m.quota,
      quotaFromDefault: !explicit.has(m.address),
      aliases: m.aliases,
      sendOnly: m.sendOnly,
    }));
  // Orphaned maildirs (mail left by removed users) need host facts; listed once apply gathers them.
  const usage = opts.usage ? await usageOrWarning(config, opts, readUsage) : undefined;
  if (opts.json) {
    const withUsage = usage
      ? rows.map((r) => ({ ...r, used: usage.get(r.address)?.used ?? null, limited: usage.get(r.address)?.limited ?? null }))
      : rows;
    io.out(`${JSON.stringify(withUsage, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.out('No mailboxes.\n');
    return 0;
  }
  io.out(
    formatColumns(
      ['ADDRESS', ...(usage ? ['USED'] : []), 'QUOTA', 'ALIASES', 'NOTES'],
      rows.map((r) => [
        r.unicode,
        ...(usage ? [usedText(usage.get(r.address)?.used, r.quota)] : []),
        `${formatSize(r.quota)}${r.quotaFromDefault ? ' (default)' : ''}`,
        r.aliases.map(displayAddress).join(', ') || '-',
        [r.sendOnly ? 'send-only' : '', usage?.get(r.address)?.limited ? 'sending limited (last 24h)' : ''].filter(Boolean).join(', '),
      ]),
    ),
  );
  return 0;
}

/** The host's usage, or undefined after a warning on stderr: the list itself needs no host. */
async function usageOrWarning(config: Config, opts: ListOptions, read: UsageReader): Promise<Map<string, Usage> | undefined> {
  try {
    const { acceptNewHostKey, identity, knownHosts } = opts;
    return await read(config, { ...(acceptNewHostKey ? { acceptNewHostKey } : {}), ...(identity ? { identity } : {}), ...(knownHosts ? { knownHosts } : {}) });
  } catch (e) {
    process.stderr.write(`mailrig: usage not shown: ${(e as Error).message} (--no-usage skips asking the host)\n`);
    return undefined;
  }
}

/** Bytes used, rounded for reading (0, 512K, 1.4G), and the share of the quota. */
export function usedText(used: number | undefined, quota: number): string {
  if (used === undefined) return '-';
  const [unit, size] = (
    [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const
  ).find(([, s]) => used >= s) ?? ['B', 1];
  const amount = used / size;
  const text = `${amount >= 10 || unit === 'B' ? Math.round(amount) : Math.round(amount * 10) / 10}${unit === 'B' ? '' : unit}`;
  return quota > 0 ? `${text} (${Math.floor((used / quota) * 100)}%)` : text;
}
