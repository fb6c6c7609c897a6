// /etc/dovecot/users: Dovecot's passwd-file, one line per mailbox, rendered from the config's hashes.
//   user:password:uid:gid:(gecos):home:(shell):extra fields
// Send-only mailboxes are listed too: they log in and submit; Postfix refuses mail addressed to them.
import { allMailboxes, type Config, type Mailbox } from '../config/model.js';
import { LOGIN_SERVICES, MAX_APP_PASSWORDS, type LoginService } from '../config/schema.js';
import { mailHome, VMAIL } from './vmail.js';


/** How one Dovecot release spells a per-user quota in a userdb extra field. */
export type QuotaField = (bytes: number) => string;

/** A size in the largest unit that states it exactly (2G, 512M, 100k, 12345B). */
export function dovecotSize(bytes: number): string {
  const units: Array<[string, number]> = [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['k', 1024],
  ];
  for (const [suffix, size] of units) if (bytes % size === 0) return `${bytes / size}${suffix}`;
  return `${bytes}B`;
}

export function mailboxHome(m: Mailbox): string {
  return mailHome(m.address);
}

export function passwdFileLine(m: Mailbox, quotaField: QuotaField): string {
  if (/[:\n]/.test(m.address) || /[:\n]/.test(m.passwordHash)) {
    // The schema already rules these out; a colon would shift every later field.
    throw new Error(`${m.address}: a passwd-file field cannot contain ':' or a newline`);
  }
  const extra = m.quota > 0 ? quotaField(m.quota) : '';
  return [m.address, m.passwordHash, VMAIL.uid, VMAIL.gid, '', mailboxHome(m), '', extra].join(':');
}

export function passwdFile(config: Config, quotaField: QuotaField): string {
  const lines = config.domains.flatMap((d) => d.mailboxes).map((m) => passwdFileLine(m, quotaField));
  return `${lines.join('\n')}\n`;
}

/** 1 … MAX_APP_PASSWORDS: one passdb each, whether or not any mailbox has that many. */
export const APP_PASSWORD_SLOTS = Array.from({ length: MAX_APP_PASSWORDS }, (_, i) => i + 1);

/** Dovecot's name of a login service (its %{protocol}): Radicale asks with service=radicale. */
export function dovecotProtocol(service: LoginService): string {
  return service === 'dav' ? 'radicale' : service;
}

/** The login services this host has: dav only while calendars and contacts are on. */
function hostServices(config: Config): LoginService[] {
  return LOGIN_SERVICES.filter((s) => s !== 'dav' || config.dav !== undefined);
}

function checkField(text: string, what: string): string {
  if (/[:\n]/.test(text)) throw new Error(`${what}: a passwd-file field cannot contain ':' or a newline`);
  return text;
}

/**
 * The app-password passdb files, `<slot>/<service>` under `dir`, each a passwd-file of the mailboxes
 * whose slot-th app password logs in to that service. Only files with a line are rendered: Dovecot
 * takes a missing one as "no such user", and apply removes what is no longer rendered.
 */
export function appPasswordFiles(config: Config, dir: string): Array<{ path: string; content: string }> {
  const files: Array<{ path: string; content: string }> = [];
  for (const slot of APP_PASSWORD_SLOTS) {
    for (const service of hostServices(config)) {
      const lines = allMailboxes(config).flatMap((m) => {
        const p = m.appPasswords[slot - 1];
        return p && p.services.includes(service) ? [`${checkField(m.address, m.address)}:${checkField(p.hash, `${m.address} ${p.name}`)}`] : [];
      });
      if (lines.length) files.push({ path: `${dir}/${slot}/${dovecotProtocol(service)}`, content: `${lines.join('\n')}\n` });
    }
  }
  return files;
}

/** Per service, the mailboxes whose main password may not log in to it (a deny passdb each). */
export function mainPasswordDeniedFiles(config: Config, dir: string): Array<{ path: string; content: string }> {
  return hostServices(config).flatMap((service) => {
    const users = allMailboxes(config).filter((m) => !m.mainPasswordServices.includes(service)).map((m) => checkField(m.address, m.address));
    return users.length ? [{ path: `${dir}/${dovecotProtocol(service)}`, content: `${users.join('\n')}\n` }] : [];
  });
}
