// The validated, normalized configuration every other module works from. Domain names are in their
// ASCII (punycode) form, addresses are full and lower-case, sizes are bytes, defaults are filled in.
import { LOGIN_SERVICES, type LoginService, type RawConfig, type Release, type ServerRole, type TlsPolicyLevel } from './schema.js';
import { normalizeAddress, parseSize, toAsciiDomain, toUnicodeDomain } from './syntax.js';

export type { LoginService, Release, ServerRole, TlsPolicyLevel } from './schema.js';

export interface Mailbox {
  /** Full address, e.g. alice@example.com (ASCII domain). */
  address: string;
  local: string;
  domain: string;
  passwordHash: string;
  /** Bytes; 0 = unlimited. */
  quota: number;
  /** Full addresses that deliver here and that this user may send as. */
  aliases: string[];
  sendOnly: boolean;
  /** Automatic reply; undefined when off. */
  vacation?: Vacation | undefined;
  /** Services the main password logs in to (all unless restricted). */
  mainPasswordServices: LoginService[];
  /** Revocable passwords, in the file's order. */
  appPasswords: AppPassword[];
  /** Sending limits when logged in: the mailbox's own, else the server's. */
  limits: SendingLimits;
}

/** How much one logged-in user may send (see limits: in mailrig.yaml). */
export interface SendingLimits {
  perMinute: number;
  perDay: number;
  /** Recipients per message. */
  recipients: number;
}

export interface AppPassword {
  name: string;
  hash: string;
  /** YYYY-MM-DD */
  created: string;
  /** Services it logs in to. */
  services: LoginService[];
}

export interface Vacation {
  subject: string;
  body: string;
  from: string | undefined;
  /** YYYY-MM-DD, the last day replies go out. */
  until: string | undefined;
  days: number;
}

export interface Alias {
  /** Full address of the alias. */
  address: string;
  /** Full addresses it delivers to (local mailboxes or external addresses). */
  targets: string[];
}

export interface Domain {
  /** ASCII (punycode) name, as it appears in DNS and in the daemons' configs. */
  name: string;
  /** The name as people write it (differs from `name` only for IDN domains). */
  unicode: string;
  mailboxes: Mailbox[];
  /** Standalone aliases (mailbox-owned aliases are expanded in here as well). */
  aliases: Alias[];
  /** Targets of the catch-all, or empty when unknown recipients are rejected. */
  catchAll: string[];
  dmarc: { policy: 'none' | 'quarantine' | 'reject'; rua: string };
}

/** A relay (smarthost) outbound mail goes through. */
export interface Relay {
  /** Host name (lower-case ASCII); TLS is verified against it. */
  host: string;
  port: 25 | 465 | 587;
  /** Login at the relay; its password is in the key store. Undefined: no AUTH (port 25 only). */
  username: string | undefined;
}

export interface RelayRouting {
  /** All mail to other domains, unless a more specific relay applies. */
  default: Relay | undefined;
  /** By sender domain (ASCII): mail from that domain. */
  senders: Array<{ domain: string; relay: Relay }>;
  /** By recipient domain (ASCII): mail to that domain, whoever sends it; wins over the others. */
  recipients: Array<{ domain: string; relay: Relay }>;
  /** Project-relative PEM file of CAs trusted for relays instead of the system bundle. */
  caFile: string | undefined;
}

/** The local validating resolver (unbound) the host, Postfix and rspamd use. */
export interface Resolver {
  /** Addresses (with @port when not 53) unbound forwards to; empty: it recurses from the root. */
  forwarders: string[];
  /** Extra DS or DNSKEY records in presentation form, one line each. */
  trustAnchors: string[];
  /** Whether unbound validates from the root zone's key. */
  rootTrustAnchor: boolean;
}

/** One destination's TLS level for outbound mail (Postfix's smtp_tls_policy_maps). */
export interface TlsPolicy {
  /** ASCII domain, or .domain for its subdomains. */
  destination: string;
  level: TlsPolicyLevel;
}

/** A DNS blocklist of IP addresses (spam.blocklists) and the rspamd symbols its answers insert. */
export interface Blocklist {
  /** Lower-case zone name. */
  zone: string;
  score: number;
  /** Inserted when the list answers 127.0.0.x: MAILRIG_RBL_<ZONE>, see blocklistSymbol. */
  symbol: string;
  /** Inserted, with no score, when the list answers 127.255.255.x (its error answers). */
  errorSymbol: string;
}

/** The rspamd symbol of a blocklist: MAILRIG_RBL_ and the zone upper-cased, dots and hyphens as _. */
export function blocklistSymbol(zone: string): string {
  return `MAILRIG_RBL_${zone.toUpperCase().replace(/[.-]/g, '_')}`;
}

/** Spamhaus's zones: the public mirrors, or the Data Query Service zones of a key. */
export function spamhausZones(dqsKey: string | undefined): { zen: string; dbl: string } {
  return dqsKey === undefined
    ? { zen: 'zen.spamhaus.org', dbl: 'dbl.spamhaus.org' }
    : { zen: `${dqsKey}.zen.dq.spamhaus.net`, dbl: `${dqsKey}.dbl.dq.spamhaus.net` };
}

/** One host of the mail system. */
export interface Server {
  /** What plans and --host call it (the primary: server.name, default "primary"). */
  name: string;
  role: ServerRole;
  /** ASCII host name: MX target, HELO name, certificate name. */
  hostname: string;
  ipv4: string;
  ipv6: string | undefined;
  ssh: string;
  release: Release;
  /** backup-mx: how long mail waits for the primary, as Postfix writes a time (5d). */
  queueLifetime?: string | undefined;
}

/** The name the primary goes by when server.name is not set. */
export const PRIMARY_NAME = 'primary';

export interface Config {
  /** The host this config is rendered for: the primary, or one of `servers` (see forHost). */
  server: Server;
  /** Every host, the primary first, then the others in the file's order. */
  servers: Server[];
  adminEmail: string;
  domains: Domain[];
  mail: { messageSizeLimit: number; defaultQuota: number; pop3: boolean; quotaWarning: { subject: string; body: string } };
  spam: {
    reject: number;
    addHeader: number;
    greylist: number;
    greylisting: boolean;
    gtube: boolean;
    /** Spamhaus DQS key; undefined: the public mirrors. */
    spamhausDqsKey: string | undefined;
    /** DNS blocklists of IP addresses beside Spamhaus, in the file's order. */
    blocklists: Blocklist[];
  };
  security: { maxAuthFailures: number; banMinutes: number };
  /** The server's sending limits: every mailbox without its own. */
  limits: SendingLimits;
  tls: { acme: string; caBundle: string | undefined };
  /** Relays for outbound mail; undefined when mail goes straight to the recipients' MX hosts. */
  relay?: RelayRouting | undefined;
  resolver: Resolver;
  /** Per-destination TLS levels, sorted by destination. */
  tlsPolicy: TlsPolicy[];
  /** Webmail on the mail host's name under /mail/; undefined: none. */
  webmail?: 'roundcube' | undefined;
  /** Daily restic backups; undefined when mailrig.yaml has no backup section. */
  backup?: { repository: string; schedule: { hour: number; minute: number }; keepDaily: number; keepWeekly: number; keepMonthly: number } | undefined;
  /** Calendars and contacts; undefined when mailrig.yaml has no dav setting. */
  dav?: 'radicale' | undefined;
  dns: {
    provider: 'manual' | 'rfc2136';
    ttl: number;
    server: string | undefined;
    keyName: string | undefined;
    keyFile: string | undefined;
  };
}

/** A target written in the config: a bare local part means "in the same domain". */
export function resolveTarget(target: string, domain: string): string {
  return target.includes('@') ? normalizeAddress(target) : `${target.toLowerCase()}@${domain}`;
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Raw (schema-checked, rules-checked) config → the normalized model. */
export function normalize(raw: RawConfig): Config {
  const defaultQuota = parseSize(raw.mail.default_quota) ?? 0;
  const limits: SendingLimits = { perMinute: raw.limits.per_minute, perDay: raw.limits.per_day, recipients: raw.limits.recipients };
  const domains: Domain[] = Object.entries(raw.domains).map(([key, d]) => {
    const name = toAsciiDomain(key) ?? key.toLowerCase();
    const mailboxes: Mailbox[] = Object.entries(d.mailboxes).map(([local, m]) => ({
      address: `${local.toLowerCase()}@${name}`,
      local: local.toLowerCase(),
      domain: name,
      passwordHash: m.password_hash,
      quota: m.quota === undefined ? defaultQuota : (parseSize(m.quota) ?? 0),
      aliases: m.aliases.map((a) => resolveTarget(a, name)),
      sendOnly: m.send_only,
      vacation: m.vacation && {
        subject: m.vacation.subject,
        body: m.vacation.body,
        from: m.vacation.from === undefined ? undefined : normalizeAddress(m.vacation.from),
        until: m.vacation.until,
        days: m.vacation.days,
      },
      mainPasswordServices: m.main_password_only ?? [...LOGIN_SERVICES],
      appPasswords: Object.entries(m.app_passwords).map(([name, p]) => ({
        name,
        hash: p.hash,
        created: p.created,
        services: p.only ?? [...LOGIN_SERVICES],
      })),
      limits: {
        perMinute: m.limits?.per_minute ?? limits.perMinute,
        perDay: m.limits?.per_day ?? limits.perDay,
        recipients: m.limits?.recipients ?? limits.recipients,
      },
    }));
    const owned: Alias[] = mailboxes.flatMap((m) => m.aliases.map((a) => ({ address: a, targets: [m.address] })));
    const standalone: Alias[] = Object.entries(d.aliases).map(([local, targets]) => ({
      address: resolveTarget(local, name),
      targets: asList(targets).map((t) => resolveTarget(t, name)),
    }));
    return {
      name,
      unicode: toUnicodeDomain(name),
      mailboxes,
      aliases: [...owned, ...standalone],
      catchAll: asList(d.catch_all).map((t) => resolveTarget(t, name)),
      dmarc: { policy: d.dmarc.policy, rua: normalizeAddress(d.dmarc.rua ?? raw.admin_email) },
    };
  });
  const primary: Server = {
    name: raw.server.name ?? PRIMARY_NAME,
    role: 'primary',
    hostname: toAsciiDomain(raw.server.hostname) ?? raw.server.hostname,
    ipv4: raw.server.ipv4,
    ipv6: raw.server.ipv6,
    ssh: raw.server.ssh,
    release: raw.server.release,
  };
  const others: Server[] = (raw.servers ?? []).map((s) => ({
    name: s.name,
    role: s.role,
    hostname: toAsciiDomain(s.hostname) ?? s.hostname.toLowerCase(),
    ipv4: s.ipv4,
    ipv6: s.ipv6,
    ssh: s.ssh,
    release: s.release,
    queueLifetime: s.queue_lifetime,
  }));
  return {
    server: primary,
    servers: [primary, ...others],
    adminEmail: normalizeAddress(raw.admin_email),
    domains,
    mail: {
      messageSizeLimit: parseSize(raw.mail.message_size_limit) ?? 52428800,
      defaultQuota,
      pop3: raw.mail.pop3,
      quotaWarning: { subject: raw.mail.quota_warning.subject, body: raw.mail.quota_warning.body },
    },
    spam: {
      reject: raw.spam.reject,
      addHeader: raw.spam.add_header,
      greylist: raw.spam.greylist,
      greylisting: raw.spam.greylisting,
      gtube: raw.spam.gtube,
      spamhausDqsKey: raw.spam.spamhaus_dqs_key,
      blocklists: raw.spam.blocklists.map((b) => {
        const zone = b.zone.toLowerCase();
        const symbol = blocklistSymbol(zone);
        return { zone, score: b.score, symbol, errorSymbol: `${symbol}_ERROR` };
      }),
    },
    security: { maxAuthFailures: raw.security.max_auth_failures, banMinutes: raw.security.ban_minutes },
    limits,
    tls: { acme: raw.tls.acme, caBundle: raw.tls.ca_bundle },
    relay: raw.relay && normalizeRelay(raw.relay),
    resolver: {
      forwarders: raw.resolver.forwarders.map((f) => f.toLowerCase()),
      trustAnchors: raw.resolver.trust_anchors.map((a) => a.trim().replace(/\s+/g, ' ')),
      rootTrustAnchor: raw.resolver.root_trust_anchor,
    },
    tlsPolicy: Object.entries(raw.tls_policy)
      .map(([d, level]) => ({ destination: policyDestination(d), level }))
      .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0)),
    webmail: raw.webmail,
    backup: raw.backup && {
      repository: raw.backup.repository,
      schedule: { hour: Number(raw.backup.schedule.slice(0, 2)), minute: Number(raw.backup.schedule.slice(3, 5)) },
      keepDaily: raw.backup.keep_daily,
      keepWeekly: raw.backup.keep_weekly,
      keepMonthly: raw.backup.keep_monthly,
    },
    dav: raw.dav,
    dns: {
      provider: raw.dns.provider,
      ttl: raw.dns.ttl,
      server: raw.dns.server,
      keyName: raw.dns.key_name,
      keyFile: raw.dns.key_file,
    },
  };
}

/** A tls_policy key in ASCII: example.com, or .example.com for its subdomains. */
export function policyDestination(key: string): string {
  const dot = key.startsWith('.') ? '.' : '';
  const name = key.slice(dot.length);
  return `${dot}${toAsciiDomain(name) ?? name.toLowerCase()}`;
}

function normalizeRelay(raw: NonNullable<RawConfig['relay']>): RelayRouting {
  const relay = (r: NonNullable<RawConfig['relay']>['default'] & object): Relay => ({
    host: (toAsciiDomain(r.host) ?? r.host).toLowerCase(),
    port: r.port as Relay['port'],
    username: r.username,
  });
  const byDomain = (m: Record<string, NonNullable<RawConfig['relay']>['default'] & object>) =>
    Object.entries(m)
      .map(([d, r]) => ({ domain: toAsciiDomain(d) ?? d.toLowerCase(), relay: relay(r) }))
      .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  return {
    default: raw.default && relay(raw.default),
    senders: byDomain(raw.sender_domains),
    recipients: byDomain(raw.recipient_domains),
    caFile: raw.ca_file,
  };
}

/** Every relay the config names, each host:port once. */
export function relays(config: Config): Relay[] {
  const r = config.relay;
  if (!r) return [];
  const all = [...(r.default ? [r.default] : []), ...r.senders.map((s) => s.relay), ...r.recipients.map((s) => s.relay)];
  const seen = new Map<string, Relay>();
  for (const x of all) if (!seen.has(relayKey(x))) seen.set(relayKey(x), x);
  return [...seen.values()];
}

/** Postfix's next-hop for a relay, as the transport and the password table write it: [host]:port. */
export function relayKey(r: Pick<Relay, 'host' | 'port'>): string {
  return `[${r.host}]:${r.port}`;
}

/** Every mailbox of every domain. */
export function allMailboxes(config: Config): Mailbox[] {
  return config.domains.flatMap((d) => d.mailboxes);
}

/** Whether the mail host name is itself one of the mail domains. */
export function hostIsMailDomain(config: Config): boolean {
  return config.domains.some((d) => d.name === config.server.hostname);
}

/** Whether the host the config is rendered for is the primary (mailboxes, logins, web). */
export function isPrimary(config: Config): boolean {
  return config.server.role === 'primary';
}

/** The primary: where the mailboxes are. */
export function primaryOf(config: Config): Server {
  if (config.server.role === 'primary') return config.server;
  return config.servers.find((s) => s.role === 'primary') ?? config.server;
}

/** Whether mailrig.yaml lists more than the one host. */
export function isMultiHost(config: Config): boolean {
  return config.servers.length > 1;
}

/** The config as the host `name` is rendered, planned and applied: the same mail system, seen from there. */
export function forHost(config: Config, name: string): Config {
  const server = config.servers.find((s) => s.name === name);
  if (!server) throw new Error(`no server named ${name}`);
  return server === config.server ? config : { ...config, server };
}

/** The hosts that receive mail from the world, in MX order: the primary, then the backup MX hosts. */
export function mxHosts(config: Config): Server[] {
  return [primaryOf(config), ...backupMxHosts(config)];
}

/**
 * The roles of the hosts that hold the mailboxes: the primary, and the standby that replicates them
 * and takes over at a failover. A service that serves mailboxes or their users runs on both.
 */
export const MAILBOX_ROLES: readonly ServerRole[] = ['primary', 'standby'];

/** Whether the host the config is rendered for holds the mailboxes (the primary or the standby). */
export function holdsMailboxes(config: Config): boolean {
  return MAILBOX_ROLES.includes(config.server.role);
}

/** The standby replica, if mailrig.yaml lists one (at most one). */
export function standbyOf(config: Config): Server | undefined {
  return config.servers.find((s) => s.role === 'standby');
}

/** The backup MX hosts, in the file's order (their MX preferences follow it). */
export function backupMxHosts(config: Config): Server[] {
  return config.servers.filter((s) => s.role === 'backup-mx');
}

/** Every address of the backup MX hosts: each one's IPv4, then its IPv6 when it has one. */
export function backupMxAddresses(config: Config): string[] {
  return backupMxHosts(config).flatMap((s) => [s.ipv4, ...(s.ipv6 !== undefined ? [s.ipv6] : [])]);
}
