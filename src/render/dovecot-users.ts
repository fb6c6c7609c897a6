// /etc/dovecot/users: Dovecot's passwd-file, one line per mailbox, rendered from the config's hashes.
//   user:password:uid:gid:(gecos):home:(shell):extra fields
// Send-only mailboxes are listed too: they log in and submit; Postfix refuses mail addressed to them.
import type { Config, Mailbox } from '../config/model.js';
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
