// mailrig user app-password add|list|rm: revocable passwords for one device or program each, kept in
// mailrig.yaml as hashes beside the mailbox's main one. The password is made here, shown once and
// never stored; apply renders the hashes into Dovecot's app-password passdb files, which Dovecot
// reads again when they change: nothing restarts.
import { randomInt } from 'node:crypto';
import { saveEdit, setAppPasswords, type Plain } from '../config/edit.js';
import type { AppPassword, Mailbox } from '../config/model.js';
import { isAppPasswordName, LOGIN_SERVICES, MAX_APP_PASSWORDS, type LoginService } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { withProjectLock } from '../fs/lock.js';
import { hashPassword } from '../keys/password.js';
import { formatColumns } from './table.js';
import { applyIfAsked, defaultIo, requireMailbox, type AccountsIo, type CommonOptions } from './user.js';

// No 0/o, 1/l/i: read off one screen and typed on another.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 5;
const GROUP_LENGTH = 5;

/** 25 random characters of 31 (about 124 bits), in dash-separated groups of five. */
export function generateAppPassword(): string {
  return Array.from({ length: GROUPS }, () => Array.from({ length: GROUP_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')).join('-');
}

/** --only imap,smtp → the services, or a UsageError naming the flag. */
export function parseServices(text: string, flag: string): LoginService[] {
  const names = text.split(',').map((s) => s.trim().toLowerCase());
  const known = new Set<string>(LOGIN_SERVICES);
  const wrong = names.find((n) => !known.has(n));
  if (wrong !== undefined) throw new UsageError(`${flag} ${text}: ${wrong === '' ? 'an empty name' : `"${wrong}"`} is not a service (${LOGIN_SERVICES.join(', ')})`);
  if (new Set(names).size !== names.length) throw new UsageError(`${flag} ${text}: names a service twice`);
  return names as LoginService[];
}

function checkName(name: string): void {
  if (!isAppPasswordName(name)) {
    throw new UsageError(`--name ${name}: 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit (try phone or laptop-mail)`);
  }
}

/** The YAML value of a mailbox's app passwords. */
function asYaml(passwords: AppPassword[]): Record<string, Plain> {
  const all = LOGIN_SERVICES.length;
  return Object.fromEntries(
    passwords.map((p) => [p.name, { hash: p.hash, created: p.created, ...(p.services.length < all ? { only: p.services } : {}) }]),
  );
}

export interface AppPasswordAddOptions extends CommonOptions {
  name?: string;
  only?: string;
}

export async function runAppPasswordAdd(address: string, opts: AppPasswordAddOptions, io: AccountsIo = defaultIo()): Promise<number> {
  if (opts.name === undefined) throw new UsageError('--name: say what uses the password (e.g. --name phone)');
  const name = opts.name;
  checkName(name);
  const services = opts.only === undefined ? [...LOGIN_SERVICES] : parseServices(opts.only, '--only');
  const check = (m: Mailbox, shown: string) => {
    if (m.appPasswords.some((p) => p.name === name)) throw new UsageError(`${shown} already has an app password named ${name}; remove it first with app-password rm`);
    if (m.appPasswords.length >= MAX_APP_PASSWORDS) throw new UsageError(`${shown} has ${MAX_APP_PASSWORDS} app passwords, the most a mailbox can have; remove one first`);
  };
  const before = requireMailbox(opts.config, address);
  check(before.mailbox, before.shown);
  const password = generateAppPassword();
  const hash = await hashPassword(password);
  const created = io.now().toISOString().slice(0, 10);
  await withProjectLock(before.path, async () => {
    const now = requireMailbox(opts.config, address);
    check(now.mailbox, now.shown);
    const list = [...now.mailbox.appPasswords, { name, hash, created, services }];
    saveEdit(now.path, setAppPasswords(now.text, address, asYaml(list), now.doc));
  });
  io.out(
    `App password "${name}" for ${before.shown} (${services.join(', ')}), added to ${opts.config}:\n\n` +
      `    ${password}\n\n` +
      'It is shown only this once: enter it on the device now. Log in with the address as user name.\n',
  );
  return applyIfAsked(opts, io);
}

export async function runAppPasswordRm(address: string, name: string, opts: CommonOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const found = requireMailbox(opts.config, address);
  if (!found.mailbox.appPasswords.some((p) => p.name === name)) {
    const names = found.mailbox.appPasswords.map((p) => p.name);
    throw new UsageError(`${found.shown} has no app password named ${name} (${names.length ? names.join(', ') : 'it has none'})`);
  }
  await withProjectLock(found.path, async () => {
    const now = requireMailbox(opts.config, address);
    const list = now.mailbox.appPasswords.filter((p) => p.name !== name);
    saveEdit(now.path, setAppPasswords(now.text, address, asYaml(list), now.doc));
  });
  io.out(`Removed the app password "${name}" of ${found.shown} from ${opts.config}; it stops working at the next apply.\n`);
  return applyIfAsked(opts, io);
}

export interface AppPasswordListOptions {
  config: string;
  json?: boolean;
}

export async function runAppPasswordList(address: string, opts: AppPasswordListOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const { mailbox, shown } = requireMailbox(opts.config, address);
  const rows = mailbox.appPasswords.map((p) => ({ name: p.name, created: p.created, services: p.services }));
  if (opts.json) {
    io.out(`${JSON.stringify({ address: mailbox.address, mainPassword: mailbox.mainPasswordServices, appPasswords: rows }, null, 2)}\n`);
    return 0;
  }
  const main = mailbox.mainPasswordServices;
  io.out(`Main password of ${shown}: ${main.length === LOGIN_SERVICES.length ? 'all services' : main.length ? main.join(', ') : 'no service (app passwords only)'}\n`);
  if (rows.length === 0) {
    io.out('No app passwords.\n');
    return 0;
  }
  io.out(formatColumns(['NAME', 'CREATED', 'SERVICES'], rows.map((r) => [r.name, r.created, r.services.join(', ')])));
  return 0;
}
