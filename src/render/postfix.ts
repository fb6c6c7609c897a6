// Postfix: main.cf, master.cf, the lookup tables (compiled by postmap into lmdb), /etc/aliases and
// /etc/mailname. Everything that differs between Debian releases is in DIALECTS, nowhere else.
import { backupMxHosts, primaryOf, type Config, type Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import {
  formatMap,
  localAliasRows,
  primaryTransportRows,
  relayRecipientRows as backupRecipientRows,
  senderLoginRows,
  sendOnlyRecipientRows,
  tlsPolicyRows,
  virtualAliasRows,
  virtualDomainRows,
  virtualMailboxRows,
  type MapRow,
} from './maps.js';
import {
  RELAY_CA,
  RELAY_LOG_NAME,
  RELAY_PASSWORDS,
  RELAY_RECIPIENTS,
  RELAY_SENDERS,
  SYSTEM_CA_BUNDLE,
  relayPasswordRows,
  relayRecipientRows,
  relaySenderRows,
  relayTransport,
} from './relay.js';
import { STS_POLICY_TABLE } from './mta-sts.js';
import { SRS_TABLES } from './postsrsd.js';
import { POSTFIX_RESOLV_CONF, resolvConf } from './unbound.js';
import { renderTemplate } from './template.js';
import { MOZILLA_INTERMEDIATE, TLS_CERT, TLS_KEY } from './tls.js';
import { filesOf, type FileSpec, type OnChange } from './types.js';

interface PostfixDialect {
  /** Debian's Postfix version, for the header comments. */
  version: string;
  /** compatibility_level: this version's own, so no backwards-compatible defaults apply. */
  compatibilityLevel: string;
  /** tls_ffdhe_auto_groups exists from 3.8 on (3.7 warns about it as unknown). */
  ffdheGroups: boolean;
}

/** The per-destination TLS policy table (smtp_tls_policy_maps), rendered even when empty. */
export const TLS_POLICY = '/etc/postfix/tls_policy';
/** Debian's bundle of the system's trusted CAs (ca-certificates, update-ca-certificates). */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The primary's postscreen allow list (postscreen_access_list): the backup MX hosts' addresses. A
 * cidr table, read into memory when postscreen starts (a reload re-reads it), so not postmapped.
 */
export const POSTSCREEN_ACCESS = '/etc/postfix/postscreen_access.cidr';

/** Postfix's log file (maillog_file): read by fail2ban, rotated by logrotate. */
export const POSTFIX_LOG = '/var/log/postfix.log';

const DIALECTS: Record<Release, PostfixDialect> = {
  'debian-12': { version: '3.7', compatibilityLevel: '3.7', ffdheGroups: false },
  'debian-13': { version: '3.10', compatibilityLevel: '3.10', ffdheGroups: true },
};

export function renderPostfix(ctx: RenderContext): FileSpec[] {
  return ctx.config.server.role === 'backup-mx' ? renderBackupMx(ctx) : renderPrimary(ctx);
}

function renderPrimary(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  const hostIsDomain = config.domains.some((d) => d.name === config.server.hostname);
  const data = {
    ...hostData(ctx, 'server.ipv6'),
    // When the host name is itself a mail domain, its mail is virtual like every other domain's.
    mydestination: hostIsDomain ? 'localhost' : '$myhostname, localhost',
    relay: relayData(ctx),
    srs: SRS_TABLES,
    postscreenAccess: backupMxHosts(config).length > 0 ? POSTSCREEN_ACCESS : false,
  };
  return [
    // A reload applies main.cf, except the listening addresses: those need a stop and start.
    { ...conf('/etc/postfix/main.cf', renderTemplate('postfix/main.cf.hbs', data), 'reload'), restartWhen: ['inet_protocols', 'inet_interfaces'] },
    conf('/etc/postfix/master.cf', renderTemplate('postfix/master.cf.hbs', data), 'reload'),
    map('virtual_domains', ['Mail domains: Postfix accepts mail for these (virtual_mailbox_domains).'], virtualDomainRows(config)),
    map(
      'virtual_mailboxes',
      ['Mailboxes that receive mail (virtual_mailbox_maps); send-only mailboxes are not listed.'],
      virtualMailboxRows(config),
    ),
    map(
      'virtual_aliases',
      [
        'Aliases and catch-alls (virtual_alias_maps). In a domain with a catch-all, each mailbox maps to',
        'itself first, or the catch-all would take its mail too.',
      ],
      virtualAliasRows(config),
    ),
    map(
      'sender_logins',
      [
        'Envelope sender -> the logins allowed to use it (smtpd_sender_login_maps): each mailbox, the',
        "mailbox's own aliases, and the local mailboxes a standalone alias delivers to.",
      ],
      senderLoginRows(config),
    ),
    map(
      'send_only_recipients',
      ['Send-only mailboxes: refused as recipients (check_recipient_access).'],
      sendOnlyRecipientRows(config),
    ),
    map(
      'tls_policy',
      [
        'Destination (domain, or .domain for its subdomains) -> TLS level (smtp_tls_policy_maps), from',
        'tls_policy in mailrig.yaml. Every other destination gets DANE, else its MTA-STS policy, else',
        'opportunistic TLS.',
      ],
      tlsPolicyRows(config),
    ),
    ...relayFiles(ctx),
    ...backupMxFiles(config),
    ...hostFiles(config),
  ];
}

/** The primary's allow list for its backup MX hosts, when it has any. */
function backupMxFiles(config: Config): FileSpec[] {
  const hosts = backupMxHosts(config);
  if (hosts.length === 0) return [];
  const rows = hosts.flatMap((s) => [
    `# ${s.name} (${s.hostname})`,
    `${s.ipv4}/32\tpermit`,
    ...(s.ipv6 !== undefined ? [`${s.ipv6}/128\tpermit`] : []),
  ]);
  const header = [
    '# Managed by mailrig. The backup MX hosts (role backup-mx under servers in mailrig.yaml):',
    '# postscreen hands their connections to smtpd at once (postscreen_access_list in main.cf).',
    '# A cidr table, read when postscreen starts: a reload applies a change.',
  ];
  return [conf(POSTSCREEN_ACCESS, `${[...header, ...rows].join('\n')}\n`, 'reload')];
}

/**
 * A backup MX: Postfix only, taking mail for the mail domains' existing recipients and queueing it
 * for the primary; no mailboxes, logins, forwarding or relays (the primary does those).
 */
function renderBackupMx(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  const primary = primaryOf(config);
  const data = {
    ...hostData(ctx, `the ipv6 of ${ctx.config.server.name} under servers`),
    primary: primary.hostname,
    queueLifetime: config.server.queueLifetime ?? '5d',
    backupMx: true,
    relay: false,
  };
  return [
    { ...conf('/etc/postfix/main.cf', renderTemplate('postfix/main.cf.backup-mx.hbs', data), 'reload'), restartWhen: ['inet_protocols', 'inet_interfaces'] },
    conf('/etc/postfix/master.cf', renderTemplate('postfix/master.cf.hbs', data), 'reload'),
    map('relay_domains', ['Mail domains this backup MX takes mail for and passes on (relay_domains).'], virtualDomainRows(config)),
    map(
      'relay_recipients',
      ['Addresses that receive mail on the primary (relay_recipient_maps): any other is refused during SMTP.'],
      backupRecipientRows(config),
    ),
    map('transport', [`Mail domain -> the primary (transport_maps): mail waits here until ${primary.hostname} takes it.`], primaryTransportRows(config, primary.hostname)),
    map('send_only_recipients', ['Send-only mailboxes: refused as recipients (check_recipient_access).'], sendOnlyRecipientRows(config)),
    map('tls_policy', ['Destination -> TLS level (smtp_tls_policy_maps), from tls_policy in mailrig.yaml.'], tlsPolicyRows(config)),
    ...hostFiles(config),
  ];
}

/**
 * What main.cf and master.cf say alike on every Postfix host, whatever its role: the release's
 * dialect, its addresses, TLS, the resolver. `ipv6Field` names, in the file, the setting of the host's IPv6 address.
 */
function hostData(ctx: RenderContext, ipv6Field: string) {
  const { config } = ctx;
  const dialect = DIALECTS[ctx.release];
  const ipv6 = config.server.ipv6 !== undefined;
  return {
    hostname: config.server.hostname,
    release: ctx.release,
    postfixVersion: dialect.version,
    compatibilityLevel: dialect.compatibilityLevel,
    ffdheGroups: dialect.ffdheGroups,
    mynetworks: ipv6 ? '127.0.0.0/8 [::1]/128' : '127.0.0.0/8',
    inetProtocols: ipv6 ? 'all' : 'ipv4',
    inetProtocolsWhy: ipv6
      ? `IPv4 and IPv6 (${ipv6Field} is set).`
      : `IPv4 only: ${ipv6Field} is not set, and Postfix would otherwise also try IPv6 when sending.`,
    messageSizeLimit: config.mail.messageSizeLimit,
    maillogFile: POSTFIX_LOG,
    tlsCert: TLS_CERT,
    tlsKey: TLS_KEY,
    ciphers: MOZILLA_INTERMEDIATE.ciphers.join(':'),
    curves: MOZILLA_INTERMEDIATE.curves.join(' '),
    tlsPolicyMaps: `lmdb:${TLS_POLICY}, ${STS_POLICY_TABLE}`,
    caFile: SYSTEM_CA_FILE,
    dnssecProbe: dnssecProbe(config),
  };
}

/** The files every Postfix host has beside main.cf, master.cf and its maps. */
function hostFiles(config: RenderContext['config']): FileSpec[] {
  return [
    // The resolver configuration smtp(8) reads in its chroot: the same as /etc/resolv.conf, which
    // Debian's Postfix start copies here too; written now so a change reaches Postfix without a restart.
    conf(POSTFIX_RESOLV_CONF, resolvConf(), 'none'),
    conf('/etc/aliases', formatMap(['Local aliases for system mail (postalias).'], localAliasRows(config), ': '), 'postalias'),
    conf('/etc/logrotate.d/postfix-log', renderTemplate('postfix/logrotate.hbs', { maillogFile: POSTFIX_LOG }), 'none'),
    // Debian's convention for "the name of this mail system", read by other mail tools.
    conf('/etc/mailname', `${config.server.hostname}\n`, 'none'),
  ];
}

/**
 * Postfix's dnssec_probe when the root is not validated: NS of the first trust anchor's zone (a
 * signed name the resolver validates); false keeps Postfix's default (ns:., the root).
 */
function dnssecProbe(config: RenderContext['config']): string | false {
  if (config.resolver.rootTrustAnchor) return false;
  const owner = config.resolver.trustAnchors[0]?.split(' ')[0];
  return owner === undefined ? false : `ns:${owner}`;
}

/** The relay settings main.cf and master.cf need, or false when mail goes out directly. */
function relayData(ctx: RenderContext) {
  const relay = ctx.config.relay;
  if (!relay) return false;
  const senders = relaySenderRows(ctx.config).length > 0;
  const recipients = relayRecipientRows(ctx.config).length > 0;
  const passwords = relayPasswordRows(ctx.config, ctx.keys.relayPasswords, ctx.keys.dir).length > 0;
  if (!relay.default && !senders && !recipients) return false;
  return {
    defaultTransport: relay.default ? relayTransport(relay.default) : false,
    senders: senders ? `lmdb:${RELAY_SENDERS}` : false,
    recipients: recipients ? `lmdb:${RELAY_RECIPIENTS}` : false,
    passwords: passwords ? `lmdb:${RELAY_PASSWORDS}` : false,
    caFile: ctx.keys.relayCaPem !== undefined ? RELAY_CA : SYSTEM_CA_BUNDLE,
    ownCa: ctx.keys.relayCaPem !== undefined,
    logName: RELAY_LOG_NAME,
  };
}

function relayFiles(ctx: RenderContext): FileSpec[] {
  if (relayData(ctx) === false) return [];
  const files: FileSpec[] = [];
  const senders = relaySenderRows(ctx.config);
  if (senders.length) files.push(map('relay_senders', ['Sender domain -> the relay its mail goes through (sender_dependent_default_transport_maps).'], senders));
  const recipients = relayRecipientRows(ctx.config);
  if (recipients.length) files.push(map('relay_recipients', ['Recipient domain -> the relay mail to it goes through (transport_maps).'], recipients));
  const passwords = relayPasswordRows(ctx.config, ctx.keys.relayPasswords, ctx.keys.dir);
  if (passwords.length) {
    files.push({
      ...map('relay_passwords', ['Relay next-hop -> login:password (smtp_sasl_password_maps). Readable by root only, its lmdb too.'], passwords),
      mode: '0600',
      secret: true,
    });
  }
  if (ctx.keys.relayCaPem !== undefined) files.push(conf(RELAY_CA, ctx.keys.relayCaPem, 'reload'));
  return files;
}

const postfixFile = filesOf('postfix');

function conf(path: string, content: string, onChange: OnChange): FileSpec {
  return postfixFile(path, content, { onChange });
}

function map(name: string, header: string[], rows: MapRow[]): FileSpec {
  return conf(`/etc/postfix/${name}`, formatMap(header, rows), 'postmap');
}
