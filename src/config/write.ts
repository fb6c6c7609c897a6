// The first mailrig.yaml, written by init: commented, in a stable key order, and pointing editors at
// the JSON Schema. Later edits go through the YAML document so these comments survive.
import { stringify } from 'yaml';
import { SCHEMA_FILE_NAME } from './json-schema.js';
import type { Config } from './model.js';

/** What the first mailrig.yaml says: the setup interview's answers, the first mailbox's password hashed. */
export type InitialConfig = Pick<Config['server'], 'hostname' | 'ipv4' | 'ipv6' | 'ssh' | 'release'> & {
  domains: string[];
  adminEmail: string;
  acme: string;
  mailbox: { address: string; passwordHash: string };
  /** A lab or test network: private addresses accepted (server.allow_private_addresses). */
  allowPrivateAddresses?: boolean | undefined;
};

const scalar = (v: string) => stringify(v, { lineWidth: 0 }).trimEnd();

export function initialConfigText(c: InitialConfig): string {
  const at = c.mailbox.address.lastIndexOf('@');
  const local = c.mailbox.address.slice(0, at);
  const mailboxDomain = c.mailbox.address.slice(at + 1);
  const domainBlock = (domain: string): string[] => {
    const ours = domain === mailboxDomain;
    return [
      `  ${scalar(domain)}:`,
      ...(ours
        ? [
            '    mailboxes:',
            `      ${scalar(local)}:`,
            `        password_hash: ${scalar(c.mailbox.passwordHash)}`,
            '        # quota: 10G                 # default: mail.default_quota',
            '        # aliases: [first.last]      # addresses that deliver here and that this user may send as',
            '    aliases:                         # local part → mailbox (or any address)',
            `      postmaster: ${scalar(local)}     # RFC 5321 requires postmaster`,
            `      abuse: ${scalar(local)}`,
          ]
        : [
            '    mailboxes: {}',
            '    aliases:',
            `      postmaster: ${scalar(c.mailbox.address)}`,
            `      abuse: ${scalar(c.mailbox.address)}`,
          ]),
      '    # catch_all: someone             # unset: mail to unknown addresses is rejected',
      '    dmarc: { policy: quarantine }    # none | quarantine | reject',
    ];
  };
  return [
    `# yaml-language-server: $schema=./${SCHEMA_FILE_NAME}`,
    '# mailrig.yaml — everything about one mail server. Safe to commit: no private keys in here',
    '# (they live in .mailrig/ beside this file, which must never be committed).',
    '',
    'server:',
    `  hostname: ${scalar(c.hostname)}   # the MX target and HELO name; its PTR must point here`,
    `  ipv4: ${scalar(c.ipv4)}`,
    c.ipv6 ? `  ipv6: ${scalar(c.ipv6)}` : '  # ipv6: 2001:db8::10',
    `  ssh: ${scalar(c.ssh)}   # user@host[:port], a Host alias from ~/.ssh/config, or "local"`,
    `  release: ${c.release}   # debian-12 | debian-13: picks each daemon's configuration dialect`,
    ...(c.allowPrivateAddresses ? ['  allow_private_addresses: true   # a lab or test network, not a public mail server'] : []),
    '',
    `admin_email: ${scalar(c.adminEmail)}   # ACME account; DMARC and TLS-RPT reports`,
    '',
    'domains:',
    ...c.domains.flatMap(domainBlock),
    '',
    'mail:',
    '  message_size_limit: 50M',
    '  default_quota: 0          # 0 = unlimited',
    '  pop3: false               # POP3 over TLS on 995',
    '',
    'spam:                       # rspamd scores',
    '  reject: 15',
    '  add_header: 6             # marked as spam and filed into Junk',
    '  greylist: 4',
    '  greylisting: true',
    '',
    'tls:',
    `  acme: ${scalar(c.acme)}   # letsencrypt | letsencrypt-staging | self-signed | directory URL`,
    '',
    'dns:',
    '  provider: manual          # manual | rfc2136 (then: server, key_name, key_file)',
    '  ttl: 3600',
    '',
  ].join('\n');
}
