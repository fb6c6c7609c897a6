// mailrig domain add|rm|list. add also makes the domain's DKIM keys and prints exactly the DNS records
// that change; rm leaves the keys in .mailrig/ (re-adding the domain reuses them, so records still
// published keep working) and prints the records that can go.
import { resolve } from 'node:path';
import { addDomain, removeDomain, saveEdit, validateEdit } from '../config/edit.js';
import { writeAtomic } from '../fs/atomic.js';
import { loadConfig, readConfigFile } from '../config/load.js';
import type { Config } from '../config/model.js';
import { displayAddress, toAsciiDomain, toUnicodeDomain } from '../config/syntax.js';
import { buildRecords } from '../dns/records.js';
import { formatTable } from '../dns/table.js';
import type { DnsRecord } from '../dns/types.js';
import { UsageError } from '../errors.js';
import { phaseOf } from '../keys/rotation.js';
import { ensureKeys, keyDirFor, loadKeys, publicKeys, readKeysFile, type StoredSelector } from '../keys/store.js';
import { formatColumns } from './table.js';
import { applyIfAsked, defaultIo, type AccountsIo, type CommonOptions, type ListOptions } from './user.js';

function recordsOf(config: Config, keyDir: string): DnsRecord[] {
  return buildRecords(config, publicKeys(loadKeys(keyDir, config.domains.map((d) => d.name))));
}

const id = (r: DnsRecord) => `${r.name}|${r.type}|${r.value}`;

/** Records in `after` but not `before` (to add), and the other way round (to delete). */
export function recordChanges(before: DnsRecord[], after: DnsRecord[]): { add: DnsRecord[]; remove: DnsRecord[] } {
  const had = new Set(before.map(id));
  const has = new Set(after.map(id));
  return { add: after.filter((r) => !had.has(id(r))), remove: before.filter((r) => !has.has(id(r))) };
}

/**
 * Where a new domain's postmaster and abuse mail goes: admin_email when it is outside this server or
 * an address the server delivers, else the first mailbox that receives mail, else nowhere yet.
 */
function postmasterFor(config: Config, ascii: string): string | undefined {
  const admin = config.adminEmail;
  const adminDomain = admin.slice(admin.lastIndexOf('@') + 1);
  const delivered = config.domains.some((d) => d.mailboxes.some((m) => m.address === admin && !m.sendOnly) || d.aliases.some((a) => a.address === admin));
  if (adminDomain !== ascii && (delivered || !config.domains.some((d) => d.name === adminDomain))) return displayAddress(admin);
  const mailbox = config.domains.flatMap((d) => d.mailboxes).find((m) => !m.sendOnly);
  return mailbox === undefined ? undefined : displayAddress(mailbox.address);
}

export async function runDomainAdd(domain: string, opts: CommonOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  const before = loadConfig(path).config;
  const ascii = toAsciiDomain(domain);
  if (ascii === undefined) throw new UsageError(`${domain}: not a valid domain name`);
  const keyDir = keyDirFor(path);
  // A domain written into mailrig.yaml by hand: it only lacks its keys, which are made here.
  if (before.domains.some((d) => d.name === ascii)) return completeDomain(before, ascii, opts, keyDir, io);
  const oldRecords = recordsOf(before, keyDir);
  const postmaster = postmasterFor(before, ascii);
  const edited = addDomain(text, domain, postmaster);
  const after = validateEdit(path, edited).config;
  // Keys first: a config naming a domain without keys would stop every other command.
  const created = await ensureKeys(keyDir, { domains: after.domains.map((d) => d.name), hostname: after.server.hostname, now: io.now() });
  writeAtomic(path, edited);
  const shown = toUnicodeDomain(ascii);
  io.out(`Added ${shown} to ${opts.config}${postmaster ? ` (postmaster@ and abuse@ deliver to ${postmaster})` : ''}.\n`);
  const dkim = created.filter((f) => f.startsWith('dkim/'));
  io.out(dkim.length ? `Created its DKIM keys in .mailrig/: ${dkim.join(', ')}\n` : 'Reusing the DKIM keys .mailrig/ already holds for it.\n');
  const changes = recordChanges(oldRecords, recordsOf(after, keyDir));
  io.out(`\nDNS records to add (${changes.add.length}):\n\n${formatTable(changes.add)}`);
  if (changes.remove.length) io.out(`Records replaced by the ones above (delete these values):\n\n${formatTable(changes.remove)}`);
  io.out(`Once published, mailrig dns --check --domain ${shown} confirms them.\n`);
  return applyIfAsked(opts, io);
}

/** `domain add` of a domain mailrig.yaml already has: its missing keys are made, nothing else changes. */
async function completeDomain(config: Config, ascii: string, opts: CommonOptions, keyDir: string, io: AccountsIo): Promise<number> {
  const shown = toUnicodeDomain(ascii);
  const created = await ensureKeys(keyDir, { domains: config.domains.map((d) => d.name), hostname: config.server.hostname, now: io.now() });
  const dkim = created.filter((f) => f.startsWith(`dkim/${ascii}/`));
  if (created.length === 0) {
    io.out(`${shown} is already a mail domain in ${opts.config}, with its keys; nothing changed.\n`);
    return 0;
  }
  io.out(`${shown} is already a mail domain in ${opts.config}; made the keys it lacked in .mailrig/: ${created.join(', ')}\n`);
  if (dkim.length) {
    // Nothing could print its records without its keys: all of them now.
    const records = recordsOf(config, keyDir).filter((r) => r.zone === ascii);
    io.out(`\nDNS records of ${shown} (${records.length}):\n\n${formatTable(records)}`);
    io.out(`Once published, mailrig dns --check --domain ${shown} confirms them.\n`);
  }
  return applyIfAsked(opts, io);
}

export async function runDomainRm(domain: string, opts: CommonOptions & { force?: boolean }, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  const before = loadConfig(path).config;
  const { text: edited, mailboxes } = removeDomain(text, domain, opts.force === true);
  const after = saveEdit(path, edited).config;
  const ascii = toAsciiDomain(domain) ?? domain;
  const shown = toUnicodeDomain(ascii);
  io.out(`Removed ${shown} from ${opts.config}.\n`);
  if (mailboxes.length) io.out(`Its mailboxes (${mailboxes.join(', ')}) are gone from the config; their stored mail stays on the server.\n`);
  io.out(`Its DKIM keys stay in .mailrig/dkim/${ascii}/ (adding the domain again reuses them).\n`);
  const keyDir = keyDirFor(path);
  const { remove } = recordChanges(recordsOf(before, keyDir), recordsOf(after, keyDir));
  if (remove.length) io.out(`\nDNS records no longer needed once no mail for ${shown} is expected (${remove.length}):\n\n${formatTable(remove)}`);
  return applyIfAsked(opts, io);
}

export async function runDomainList(opts: ListOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const { config } = loadConfig(path);
  let selectors: Record<string, StoredSelector[]> | undefined;
  try {
    selectors = readKeysFile(keyDirFor(path)).dkim;
  } catch {
    selectors = undefined; // no (or an unsafe) key store: list the domains anyway
  }
  const rows = config.domains.map((d) => {
    const own = (selectors?.[d.name] ?? []).filter((s) => s.state !== 'retired');
    return {
      domain: d.name,
      unicode: d.unicode,
      mailboxes: d.mailboxes.length,
      aliases: d.aliases.length,
      dkim: { rotation: phaseOf(own), selectors: own.map(({ selector, algorithm, state }) => ({ selector, algorithm, state })) },
    };
  });
  if (opts.json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const dkimText = (r: (typeof rows)[number]) =>
    r.dkim.selectors.map((s) => `${s.selector}${s.state === 'active' ? '' : ` (${s.state})`}`).join(', ') || (selectors ? 'no keys' : 'key store unreadable');
  io.out(formatColumns(['DOMAIN', 'MAILBOXES', 'ALIASES', 'DKIM SELECTORS'], rows.map((r) => [r.unicode, String(r.mailboxes), String(r.aliases), dkimText(r)])));
  return 0;
}
