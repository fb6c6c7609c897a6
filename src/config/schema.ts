// The one declaration of mailrig.yaml: types, defaults, descriptions and examples live here, and
// validation, the JSON Schema for editors (mailrig.schema.json) and the docs are all derived from it.
// Rules that look across fields (duplicates, alias targets) live in rules.ts.
import { z } from 'zod';
import { isEmailAddress, isForwarder, isFqdn, isHostPort, isIPv4, isIPv6, parseSize, sshTargetProblem, trustAnchorProblem } from './syntax.js';
import { isResticRepository } from './repository.js';

const fqdn = z
  .string()
  .refine(isFqdn, { message: 'is not a fully qualified domain name (try mail.example.com)' });

const size = z
  .union([z.string(), z.number().int().nonnegative()])
  .refine((v) => parseSize(v) !== undefined, {
    message: 'is not a size (try 10G, 500M or a number of bytes)',
  });

const MIB = 1024 ** 2;

/** A size between `min` and `max` bytes (0 allowed too when `zero` is what it means: unlimited). */
const sizeIn = (min: number, max: number, zero?: string) =>
  size.refine(
    (v) => {
      const n = parseSize(v);
      return n === undefined || (zero !== undefined && n === 0) || (n >= min && n <= max);
    },
    { message: `must be ${zero !== undefined ? `0 (${zero}) or ` : ''}between ${showSize(min)} and ${showSize(max)}` },
  );

function showSize(n: number): string {
  for (const [unit, f] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', MIB], ['K', 1024]] as const) if (n >= f && n % f === 0) return `${n / f}${unit}`;
  return String(n);
}

// Below 100K a mailbox could not take one ordinary message with attachments: a typo, not a policy.
const quota = sizeIn(100 * 1024, 1024 ** 5, 'unlimited');

const email = z.string().refine(isEmailAddress, { message: 'is not an email address (try admin@example.com)' });

export const RELEASES = ['debian-12', 'debian-13'] as const;

/** The CalDAV/CardDAV servers mailrig sets up. */
export const DAV_SERVERS = ['radicale'] as const;
export type Release = (typeof RELEASES)[number];

/** The webmail mailrig can serve. */
export const WEBMAILS = ['roundcube'] as const;

export const PASSWORD_SCHEMES = ['ARGON2ID', 'BLF-CRYPT', 'SHA512-CRYPT'] as const;

/** A password hash in Dovecot's {SCHEME} form, one of PASSWORD_SCHEMES. */
export const isPasswordHash = (v: string): boolean => /^\{(ARGON2ID|BLF-CRYPT|SHA512-CRYPT)\}\S+$/.test(v);

const passwordHash = z
  .string()
  .refine(isPasswordHash, {
    message: `is not a password hash in Dovecot's {SCHEME} form (${PASSWORD_SCHEMES.join(', ')}); make one with mailrig user passwd`,
  })
  .describe("Dovecot {SCHEME} password hash; never the password itself")
  .meta({ examples: ['{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$...'] });

/** The defaults of mail.quota_warning: English, with {percent} and {address} filled in when sent. */
export const QUOTA_WARNING_DEFAULT = {
  subject: 'Your mailbox is {percent}% full',
  body:
    'Your mailbox {address} has reached {percent}% of its quota.\n' +
    'Delete or archive old messages (empty Trash and Junk too): when it is full, new mail is refused.\n',
};

const vacation = z
  .strictObject({
    subject: z.string().min(1).describe('Subject of the automatic reply'),
    body: z.string().min(1).describe('Text of the automatic reply'),
    from: email.optional().describe('From address of the reply; defaults to the address the mail was sent to'),
    until: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'is not a date (try 2026-08-31)' })
      .refine((day) => !/^\d{4}-\d{2}-\d{2}$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) === day, {
        message: 'is not a day of the calendar (try 2026-08-31)',
      })
      .optional()
      .describe('Last day (inclusive, server time) replies are sent; unset means until switched off'),
    days: z.number().int().min(1).max(30).default(7).describe('Days before the same sender gets another reply'),
  })
  .describe('Automatic reply (Sieve vacation): at most one per sender per `days`, never to lists, bulk or automatic mail');

/**
 * The services a login is for, as Dovecot names them (smtp: submission through Postfix's SASL), and
 * dav: calendars and contacts (Radicale, which Dovecot knows as the service "radicale").
 */
export const LOGIN_SERVICES = ['imap', 'pop3', 'smtp', 'sieve', 'dav'] as const;
export type LoginService = (typeof LOGIN_SERVICES)[number];

/** At most this many app passwords per mailbox: each is one passdb lookup Dovecot may make. */
export const MAX_APP_PASSWORDS = 8;

/** An app password's name: what the person calls the device or program that uses it. */
export const isAppPasswordName = (v: string): boolean => /^[a-z0-9][a-z0-9_-]{0,31}$/.test(v);

const services = z
  .array(z.enum(LOGIN_SERVICES))
  .refine((v) => new Set(v).size === v.length, { message: 'names a service twice' });

const appPassword = z
  .strictObject({
    hash: passwordHash,
    created: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'is not a date (try 2026-08-31)' }).describe('Day it was made'),
    only: services.min(1).optional().describe(`Services it logs in to (${LOGIN_SERVICES.join(', ')}); unset means all`),
  })
  .describe('A revocable password for one device or program, made by mailrig user app-password add');

/** Sending limits of a logged-in user when mailrig.yaml sets none: a person never meets them, a spam run does at once. */
export const LIMITS_DEFAULT = { per_minute: 30, per_day: 1000, recipients: 100 } as const;

const count = (what: string) =>
  z
    .number({ message: `must be a whole number of ${what}, at least 1` })
    .int({ message: `must be a whole number of ${what}, at least 1` })
    .min(1, { message: `must be a whole number of ${what}, at least 1` });

const limitFields = {
  per_minute: count('messages').describe('Messages a user may send in one minute (counted from its first message in that minute)'),
  per_day: count('messages').describe('Messages a user may send in one day (counted from its first message of that day)'),
  recipients: count('recipients').describe('Recipients one message may have'),
};

const mailboxLimits = z
  .strictObject({
    per_minute: limitFields.per_minute.optional(),
    per_day: limitFields.per_day.optional(),
    recipients: limitFields.recipients.optional(),
  })
  .describe("This user's sending limits; each unset one is the server's (limits: in mailrig.yaml)");

const mailbox = z
  .strictObject({
    password_hash: passwordHash,
    quota: quota.optional().describe('Mailbox quota; defaults to mail.default_quota').meta({ examples: ['10G'] }),
    aliases: z
      .array(z.string())
      .default([])
      .describe('Other local parts (or full addresses in a managed domain) that deliver here and that this user may send as'),
    send_only: z
      .boolean()
      .default(false)
      .describe('May log in and send, receives no mail (mail to it is rejected)'),
    vacation: vacation.optional(),
    main_password_only: services
      .optional()
      .describe(`Services the main password logs in to (${LOGIN_SERVICES.join(', ')}); [] leaves only app passwords; unset means all`),
    app_passwords: z
      .record(z.string(), appPassword)
      .default({})
      .refine((v) => Object.keys(v).length <= MAX_APP_PASSWORDS, { message: `at most ${MAX_APP_PASSWORDS} app passwords per mailbox` })
      .refine((v) => Object.keys(v).every(isAppPasswordName), {
        message: 'app password names are 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit',
      })
      .describe('App passwords, keyed by name'),
    limits: mailboxLimits.optional(),
  })
  .describe('One mailbox, keyed by its local part');

const dmarcPolicy = z.enum(['none', 'quarantine', 'reject']);

const domain = z
  .strictObject({
    mailboxes: z.record(z.string(), mailbox).default({}).describe('Mailboxes of this domain, keyed by local part'),
    aliases: z
      .record(z.string(), z.union([z.string(), z.array(z.string()).min(1)]))
      .default({})
      .describe('Alias local part → target(s): a local part of this domain, or a full address (local or external)'),
    catch_all: z
      .union([z.string(), z.array(z.string()).min(1)])
      .optional()
      .describe('Where mail to any other address of this domain goes; unset rejects unknown recipients'),
    dmarc: z
      .strictObject({
        policy: dmarcPolicy.default('quarantine').describe('DMARC policy published for this domain'),
        rua: email.optional().describe('Aggregate report address; defaults to admin_email'),
      })
      .default({ policy: 'quarantine' })
      .describe('DMARC record settings'),
  })
  .describe('One mail domain, keyed by its name (Unicode names are accepted)');

/** The ports a relay (smarthost) takes mail on, and how TLS starts on each. */
export const RELAY_PORTS = [25, 465, 587] as const;

const relayTarget = z
  .strictObject({
    host: z
      .string()
      .refine(isFqdn, { message: 'is not a host name (try smtp.relay.example.net); TLS to the relay is verified against this name' })
      .describe("The relay's host name; its certificate must be valid for it")
      .meta({ examples: ['smtp.relay.example.net'] }),
    port: z
      .number()
      .int()
      .refine((p) => (RELAY_PORTS as readonly number[]).includes(p), {
        message: 'must be 587 (submission, STARTTLS), 465 (implicit TLS) or 25 (SMTP, STARTTLS)',
      })
      .default(587)
      .describe('587: submission with STARTTLS; 465: implicit TLS; 25: SMTP with STARTTLS'),
    username: z
      .string()
      .min(1)
      .optional()
      .describe('Login at the relay (required on 587 and 465); its password is kept in .mailrig/, set by mailrig relay password HOST'),
  })
  .describe('A relay (smarthost): TLS to it is required and its certificate verified');

/** Postfix TLS security levels an operator may ask for one destination (tls_policy); never `none`. */
export const TLS_POLICY_LEVELS = ['may', 'encrypt', 'dane', 'dane-only', 'verify', 'secure'] as const;
export type TlsPolicyLevel = (typeof TLS_POLICY_LEVELS)[number];

const resolverAddress = z
  .string()
  .refine(isForwarder, { message: 'is not an IPv4 or IPv6 address, optionally with @port (try 192.0.2.53 or 2001:db8::53@5353)' });

const trustAnchor = z.string().superRefine((v, ctx) => {
  const problem = trustAnchorProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A Spamhaus DQS key: 26 characters, the first label of every DQS zone name. */
export const isDqsKey = (v: string): boolean => /^[a-z0-9]{26}$/.test(v);

/** A DNS zone name of letters, digits and hyphens (no Unicode: it names an rspamd symbol too). */
export const isZoneName = (v: string): boolean =>
  v.length <= 200 && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i.test(v) && !/^\d+$/.test(v.slice(v.lastIndexOf('.') + 1));

const blocklist = z
  .strictObject({
    zone: z
      .string()
      .refine(isZoneName, { message: 'is not a DNS zone name (try bl.example.net)' })
      .describe('The zone asked, as <reversed address>.<zone>: an answer of 127.0.0.x means listed, 127.255.255.x an error of the list, no answer not listed')
      .meta({ examples: ['bl.example.net'] }),
    score: z
      .number()
      .refine((n) => Number.isFinite(n) && n > 0 && n <= 100, { message: 'must be a number above 0 and at most 100' })
      .describe('rspamd score a listing adds (spam.add_header and spam.reject are the thresholds it counts toward)'),
  })
  .describe('A DNS blocklist of IP addresses, asked for the address of each server that connects');

/** What a host listed under `servers` is for; the primary is `server`. */
export const SERVER_ROLES = ['backup-mx', 'standby'] as const;
export type ServerRole = 'primary' | (typeof SERVER_ROLES)[number];

/** A name a host goes by in plans, `--host` and the key store: short, lower-case. */
export const isServerName = (v: string): boolean => /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(v);

/** A Postfix time: a whole number of seconds, minutes, hours, days or weeks (5d). */
export const isPostfixTime = (v: string): boolean => /^[1-9]\d{0,4}[smhdw]$/.test(v);

const sshTarget = z
  .string()
  .superRefine((v, ctx) => {
    const problem = sshTargetProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const serverName = z
  .string()
  .refine(isServerName, { message: 'is not a host name for mailrig (1 to 32 of a-z, 0-9 and -, e.g. mx2)' });

const hostFields = {
  hostname: fqdn.describe('The mail server name: the MX target, HELO name and certificate name; PTR must point here').meta({
    examples: ['mail.example.com'],
  }),
  ipv4: z.string().refine(isIPv4, { message: 'is not an IPv4 address' }).describe('Public IPv4 address'),
  ipv6: z
    .string()
    .refine(isIPv6, { message: 'is not an IPv6 address' })
    .optional()
    .describe('Public IPv6 address (optional)'),
  ssh: sshTarget
    .describe('user@host[:port], a Host alias from ~/.ssh/config, or "local" for this machine')
    .meta({ examples: ['root@203.0.113.10', 'local'] }),
  release: z.enum(RELEASES).describe('Target release; picks each daemon\'s configuration dialect'),
};

/** A host beside the primary: a backup MX, or the standby replica. */
const otherServer = z
  .strictObject({
    name: serverName.describe('What plans and --host call this host').meta({ examples: ['mx2'] }),
    role: z.enum(SERVER_ROLES).describe('backup-mx: queues mail for the primary while it is down; standby: a replica of the mailboxes that can take over (mailrig failover); at most one, on the primary\'s release'),
    ...hostFields,
    allow_private_addresses: z
      .boolean()
      .optional()
      .describe("Accept private addresses for this host; unset: the primary's server.allow_private_addresses"),
    queue_lifetime: z
      .string()
      .refine(isPostfixTime, { message: 'is not a time (a number and s, m, h, d or w; try 5d)' })
      .default('5d')
      .describe('backup-mx: how long mail waits for the primary before it is returned to its sender'),
  })
  .describe('Another host of this mail system, with its role');

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        name: serverName
          .optional()
          .describe('What plans and --host call the primary (default: primary)')
          .meta({ examples: ['primary'] }),
        ...hostFields,
        allow_private_addresses: z
          .boolean()
          .default(false)
          .describe('Accept private, loopback and link-local server addresses: a lab or test network, never a public mail server'),
      })
      .describe('The host that runs the mail server: the primary, where the mailboxes are'),
    servers: z
      .array(otherServer)
      .optional()
      .describe('More hosts of this mail system: backup MX hosts (any number) that queue mail while the primary is down, and at most one standby replica'),
    admin_email: email.describe('ACME account address and default report address'),
    domains: z
      .record(z.string(), domain)
      .refine((d) => Object.keys(d).length > 0, { message: 'needs at least one mail domain' })
      .describe('Mail domains, keyed by domain name'),
    mail: z
      .strictObject({
        message_size_limit: sizeIn(MIB, 1024 ** 3).default('50M').describe('Largest message accepted, in and out'),
        default_quota: quota.default('0').describe('Quota for mailboxes without one; 0 means unlimited'),
        pop3: z.boolean().default(false).describe('Also serve POP3 over TLS on 995'),
        quota_warning: z
          .strictObject({
            subject: z.string().min(1).default(QUOTA_WARNING_DEFAULT.subject).describe('Subject; {percent} and {address} are filled in'),
            body: z.string().min(1).default(QUOTA_WARNING_DEFAULT.body).describe('Text; {percent} and {address} are filled in'),
          })
          .default(QUOTA_WARNING_DEFAULT)
          .describe('The message a mailbox gets once when it passes 80% and once when it passes 95% of its quota'),
      })
      .default({ message_size_limit: '50M', default_quota: '0', pop3: false, quota_warning: QUOTA_WARNING_DEFAULT })
      .describe('Mail handling'),
    spam: z
      .strictObject({
        reject: z.number().default(15).describe('rspamd score at which mail is rejected'),
        add_header: z.number().default(6).describe('rspamd score at which mail is marked as spam (and filed into Junk)'),
        greylist: z.number().default(4).describe('rspamd score at which unknown senders are greylisted'),
        greylisting: z.boolean().default(true).describe('Greylist doubtful mail from unknown senders'),
        gtube: z
          .boolean()
          .default(false)
          .describe('Honour GTUBE test patterns from any sender (tests only)'),
        spamhaus_dqs_key: z
          .string()
          .refine(isDqsKey, { message: 'is not a Spamhaus DQS key (26 lower-case letters and digits, from the Spamhaus portal)' })
          .optional()
          .describe("Spamhaus Data Query Service key: ZEN and DBL are then asked at <key>.zen.dq.spamhaus.net and <key>.dbl.dq.spamhaus.net instead of the public mirrors, which refuse queries from large shared resolvers")
          .meta({ examples: ['abcdefghijklmnopqrstuvwxyz'] }),
        blocklists: z
          .array(blocklist)
          .default([])
          .describe('More DNS blocklists of IP addresses beside Spamhaus (local or regional lists); each listing adds its score'),
      })
      .default({ reject: 15, add_header: 6, greylist: 4, greylisting: true, gtube: false, blocklists: [] })
      .describe('Spam filter thresholds and blocklists'),
    limits: z
      .strictObject({
        per_minute: limitFields.per_minute.default(LIMITS_DEFAULT.per_minute),
        per_day: limitFields.per_day.default(LIMITS_DEFAULT.per_day),
        recipients: limitFields.recipients.default(LIMITS_DEFAULT.recipients),
      })
      .default(LIMITS_DEFAULT)
      .describe(
        'Sending limits per logged-in user, the brake on a stolen password: over them a message is refused at submission and the admin (admin_email) hears of it once a day',
      ),
    security: z
      .strictObject({
        max_auth_failures: z
          .number()
          .int()
          .min(1)
          .default(5)
          .describe('Failed SMTP AUTH or IMAP logins from one address before fail2ban blocks it from the mail ports'),
        ban_minutes: z
          .number()
          .int()
          .min(1)
          .default(60)
          .describe('How long a blocked address stays blocked, in minutes'),
      })
      .default({ max_auth_failures: 5, ban_minutes: 60 })
      .describe('Brute-force protection (fail2ban jails for Postfix SASL and Dovecot)'),
    relay: z
      .strictObject({
        default: relayTarget.optional().describe('Where all mail to other domains goes (unset: straight to the recipients\' MX hosts)'),
        sender_domains: z
          .record(z.string(), relayTarget)
          .default({})
          .describe('Mail from these mail domains goes through their own relay (overrides default)'),
        recipient_domains: z
          .record(z.string(), relayTarget)
          .default({})
          .describe('Mail to these outside domains goes through this relay (overrides the others), e.g. outlook.com'),
        ca_file: z
          .string()
          .optional()
          .describe('PEM file (beside mailrig.yaml) of the CAs trusted for relays instead of the system bundle: a private relay'),
      })
      .optional()
      .describe('Relays (smarthosts) for outbound mail: for a VPS whose provider blocks port 25, or receivers that block its range'),
    resolver: z
      .strictObject({
        forwarders: z
          .array(resolverAddress)
          .default([])
          .describe('Resolvers the local resolver asks instead of recursing from the root itself (it still validates DNSSEC); unset: full recursion')
          .meta({ examples: [['192.0.2.53', '2001:db8::53']] }),
        trust_anchors: z
          .array(trustAnchor)
          .default([])
          .describe('Extra DNSSEC trust anchors: DS or DNSKEY records in presentation form, e.g. for a signed private zone')
          .meta({ examples: [['remote.test. IN DS 12345 13 2 ABCDEF0123456789']] }),
        root_trust_anchor: z
          .boolean()
          .default(true)
          .describe("Validate from the root zone's key (Debian's dns-root-data); false only when the forwarders serve a private tree"),
      })
      .default({ forwarders: [], trust_anchors: [], root_trust_anchor: true })
      .describe('The local DNSSEC-validating resolver (unbound on 127.0.0.1) that Postfix, rspamd and the host use'),
    tls_policy: z
      .record(z.string(), z.enum(TLS_POLICY_LEVELS))
      .default({})
      .describe('TLS level for mail to a destination domain (a leading dot: its subdomains), overriding DANE-or-opportunistic TLS')
      .meta({ examples: [{ 'partner.example': 'encrypt' }] }),
    webmail: z
      .enum(WEBMAILS)
      .optional()
      .describe("Webmail on the mail host's name under /mail/ (Roundcube from Debian, behind nginx); unset: none, and nothing of it on the host"),
    // Backups: absent means none; `mailrig backup init` writes it.
    backup: z
      .strictObject({
        repository: z
          .string()
          .refine(isResticRepository, {
            message: 'is not a restic repository mailrig sets up (try /var/backups/mailrig-restic, sftp:user@host:/path or s3:https://host/bucket)',
          })
          .describe('restic repository: a local path on the host, sftp:user@host:/path or s3:https://host/bucket')
          .meta({ examples: ['/var/backups/mailrig-restic', 'sftp:backup@backup.example.net:/srv/restic/mail'] }),
        schedule: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'is not a time of day (try 03:30)' })
          .default('03:30')
          .describe("Daily backup time, HH:MM in the host's time zone"),
        keep_daily: z.number().int().min(0).default(7).describe('Daily snapshots kept'),
        keep_weekly: z.number().int().min(0).default(4).describe('Weekly snapshots kept'),
        keep_monthly: z.number().int().min(0).default(12).describe('Monthly snapshots kept'),
      })
      .optional()
      .describe('Daily restic backups of the mail, the configuration and the keys, made on the host'),
    dav: z
      .enum(DAV_SERVERS)
      .optional()
      .describe('Calendars and contacts (CalDAV, CardDAV) for every mailbox under https://<server.hostname>/dav/, with the mail and app passwords; unset means none')
      .meta({ examples: ['radicale'] }),
    tls: z
      .strictObject({
        acme: z
          .string()
          .default('letsencrypt')
          .refine((v) => ['letsencrypt', 'letsencrypt-staging', 'self-signed'].includes(v) || /^https:\/\/\S+$/.test(v), {
            message: 'must be letsencrypt, letsencrypt-staging, self-signed or an https:// ACME directory URL',
          })
          .describe('Where certificates come from'),
        ca_bundle: z.string().optional().describe('PEM file of extra CAs to trust for a private ACME server'),
      })
      .default({ acme: 'letsencrypt' })
      .describe('TLS certificates'),
    dns: z
      .strictObject({
        provider: z.enum(['manual', 'rfc2136']).default('manual').describe('How records get published'),
        ttl: z
          .number()
          .int()
          .min(60, { message: 'must be at least 60 (seconds)' })
          .max(604800, { message: 'must be at most 604800 (seconds: one week)' })
          .default(3600).describe('TTL of published records, in seconds'),
        server: z
          .string()
          .refine(isHostPort, { message: 'is not host[:port] (try ns1.example.net or 192.0.2.53:53)' })
          .optional()
          .describe('rfc2136: the primary server, host[:port]'),
        key_name: z.string().optional().describe('rfc2136: TSIG key name'),
        key_file: z.string().optional().describe('rfc2136: file holding the TSIG secret (hmac-sha256)'),
      })
      .default({ provider: 'manual', ttl: 3600 })
      .describe('DNS publishing'),
  })
  .describe('mailrig.yaml: everything about one mail server. Safe to commit: no private keys in here.');

export type RawConfig = z.output<typeof configSchema>;
export type RawConfigInput = z.input<typeof configSchema>;
