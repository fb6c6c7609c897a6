// The contents of Postfix's lookup tables, computed from the config. Each map is a list of
// [key, value] rows; `formatMap` turns it into the source file that postmap compiles to lmdb.
//
// Who may send as what (smtpd_sender_login_maps; SASL login names are full addresses):
// - every mailbox (send-only ones included) may send as itself;
// - a mailbox may send as each of its own `aliases`;
// - a standalone alias may be sent as by each local mailbox it delivers to (postmaster → alice lets
//   alice answer as postmaster); external targets gain nothing;
// - a catch-all grants nothing: it would let its target send as any address of the domain.
import type { Config, Domain } from '../config/model.js';

export type MapRow = readonly [key: string, value: string];

/** The mail domains Postfix accepts mail for (virtual_mailbox_domains). */
export function virtualDomainRows(config: Config): MapRow[] {
  return sortRows(config.domains.map((d) => [d.name, 'OK'] as const));
}

/** Mailboxes that receive mail (virtual_mailbox_maps); send-only ones are left out, so mail to them is refused. */
export function virtualMailboxRows(config: Config): MapRow[] {
  const rows = config.domains.flatMap((d) => d.mailboxes.filter((m) => !m.sendOnly).map((m) => [m.address, 'OK'] as const));
  return sortRows(rows);
}

/**
 * Aliases, mailbox-owned and standalone, and catch-alls (virtual_alias_maps). In a domain with a
 * catch-all, each receiving mailbox also maps to itself: Postfix expands aliases before it looks at
 * mailboxes, so without that line the catch-all would swallow the real mailboxes' mail too.
 */
export function virtualAliasRows(config: Config): MapRow[] {
  return sortRows(config.domains.flatMap(domainAliasRows));
}

function domainAliasRows(d: Domain): MapRow[] {
  const targets = new Map<string, string[]>();
  for (const alias of d.aliases) {
    const list = targets.get(alias.address) ?? [];
    for (const t of alias.targets) if (!list.includes(t)) list.push(t);
    targets.set(alias.address, list);
  }
  const rows: MapRow[] = [...targets].map(([address, list]) => [address, list.join(', ')] as const);
  if (d.catchAll.length > 0) {
    for (const m of d.mailboxes) if (!m.sendOnly && !targets.has(m.address)) rows.push([m.address, m.address]);
    rows.push([`@${d.name}`, d.catchAll.join(', ')]);
  }
  return rows;
}

/**
 * Every address that receives mail on the primary, for a backup MX's relay_recipient_maps: the
 * receiving mailboxes, the aliases, and "@domain" for a domain with a catch-all.
 */
export function relayRecipientRows(config: Config): MapRow[] {
  const rows = new Map<string, string>();
  for (const d of config.domains) {
    for (const m of d.mailboxes) if (!m.sendOnly) rows.set(m.address, 'OK');
    for (const a of d.aliases) rows.set(a.address, 'OK');
    if (d.catchAll.length > 0) rows.set(`@${d.name}`, 'OK');
  }
  return sortRows([...rows]);
}

/** Each mail domain -> the primary, for a backup MX's transport_maps: by name, port 25, no MX lookup. */
export function primaryTransportRows(config: Config, primaryHostname: string): MapRow[] {
  return sortRows(config.domains.map((d) => [d.name, `smtp:[${primaryHostname}]:25`] as const));
}

/** Which SASL logins may use each envelope sender (smtpd_sender_login_maps); see the rules above. */
export function senderLoginRows(config: Config): MapRow[] {
  const owners = new Map<string, string[]>();
  const grant = (address: string, login: string) => {
    const list = owners.get(address) ?? [];
    if (!list.includes(login)) list.push(login);
    owners.set(address, list);
  };
  const mailboxes = new Set(config.domains.flatMap((d) => d.mailboxes.map((m) => m.address)));
  for (const d of config.domains) {
    for (const m of d.mailboxes) {
      grant(m.address, m.address);
      for (const a of m.aliases) grant(a, m.address);
    }
  }
  for (const d of config.domains) {
    for (const alias of d.aliases) {
      for (const t of alias.targets) if (mailboxes.has(t)) grant(alias.address, t);
    }
  }
  return sortRows([...owners].map(([address, list]) => [address, list.join(', ')] as const));
}

/** Send-only addresses, refused at RCPT time (check_recipient_access) even where a catch-all exists. */
export function sendOnlyRecipientRows(config: Config): MapRow[] {
  const rows = config.domains.flatMap((d) =>
    d.mailboxes.filter((m) => m.sendOnly).map((m) => [m.address, '550 5.1.1 This address only sends mail; it receives none'] as const),
  );
  return sortRows(rows);
}

/** /etc/aliases: local mail for root and postmaster@<hostname> reaches the admin. */
/** Destination -> TLS level (smtp_tls_policy_maps), from tls_policy in mailrig.yaml. */
export function tlsPolicyRows(config: Config): MapRow[] {
  return config.tlsPolicy.map((p) => [p.destination, p.level] as const);
}

export function localAliasRows(config: Config): MapRow[] {
  return [
    ['postmaster', 'root'],
    ['root', config.adminEmail],
  ];
}

/** Rows in a stable order: by domain, then by key, so that a reordered mailrig.yaml changes nothing. */
function sortRows(rows: MapRow[]): MapRow[] {
  const domainOf = (key: string) => key.slice(key.lastIndexOf('@') + 1);
  return [...rows].sort(
    (a, b) => compare(domainOf(a[0]), domainOf(b[0])) || compare(catchAllLast(a[0]), catchAllLast(b[0])),
  );
}

// "@domain" sorts after the addresses it catches, where a reader expects it.
function catchAllLast(key: string): string {
  return key.startsWith('@') ? `\u{10FFFF}${key}` : key;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The source text of a Postfix table: a header comment, then "key value" lines. */
export function formatMap(header: string[], rows: readonly MapRow[], separator = ' '): string {
  const lines = header.map((h) => `# ${h}`.trimEnd());
  lines.push('# Generated by mailrig from mailrig.yaml: edit that file, not this one.');
  for (const [key, value] of rows) lines.push(`${key}${separator}${value}`);
  return `${lines.join('\n')}\n`;
}
