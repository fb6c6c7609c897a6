// The vmail user that owns every mailbox, and where each address's mail lives: the one definition that
// Dovecot's rendered configuration, apply's preparation, purges and restores all read.

export const VMAIL = { user: 'vmail', uid: 5000, gid: 5000, home: '/var/vmail' } as const;

/** An address's home (Dovecot's mail_home), with ~/Maildir in it. */
export function mailHome(address: string): string {
  const at = address.lastIndexOf('@');
  return `${VMAIL.home}/${address.slice(at + 1)}/${address.slice(0, at)}`;
}
