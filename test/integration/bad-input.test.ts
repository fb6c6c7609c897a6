// Every bad input a user can give, as a table: the command (arguments, standard input, the project it
// runs in and a change to its mailrig.yaml), the exit code, a phrase of the message, and proof that
// nothing on disk changed (a hash of the whole project directory before and after).
//
// Most rows run mailrig's own entry (main) in this process, which is where every refusal below is
// made; the rows marked `process` run bin/mailrig.js as a user does, and prove that the refusal ends
// a real process with that exit code and the message on stderr: every "… on a broken file" row, a
// commander error, and a password refused as read from a pipe.
//
// Coverage is checked, not hoped for: every command of the CLI (read from the commander program) and
// every field of mailrig.yaml (read from the schema) must have a row. A new command or field without
// one fails here; add its row to COMMAND_ROWS or FIELD_ROWS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { buildProgram } from '../../src/cli/main.js';
import { configSchema } from '../../src/config/schema.js';
import { PROJECT_ROOT } from '../support/fixtures.js';
import { mailrigInProcess } from '../support/in-process.js';
import { dnsInProcess } from '../support/project.js';

const BIN = join(PROJECT_ROOT, 'bin/mailrig.js');
const PASSWORD = 'Example-password-2026';
/** A command that reaches for a host or the network instead of refusing is a failure, not a hang. */
const TIMEOUT_MS = 30_000;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** What mailrig runs with: a home of its own (no ~/.ssh of the user running the tests), no agent. */
const userEnv = (cwd: string) => ({ HOME: join(cwd, '..', 'home'), NO_COLOR: '1', SSH_AUTH_SOCK: '' });

function mailrig(args: string[], cwd: string, input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, ...userEnv(cwd) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Every path under `dir` with its type, mode and content (or link target). The loader's cache of a
 * file that loaded fine (.mailrig/config-cache.json) is derived data, not a change: it is left out.
 */
function treeHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    if (rel === join('.mailrig', 'config-cache.json')) return;
    const abs = join(dir, rel);
    const st = lstatSync(abs);
    hash.update(`${rel}\0${st.mode}\0`);
    if (st.isDirectory()) for (const name of readdirSync(abs).sort()) walk(join(rel, name));
    else if (st.isSymbolicLink()) hash.update(readlinkSync(abs));
    else hash.update(readFileSync(abs));
  };
  walk('.');
  return hash.digest('hex');
}

// ---- rows -------------------------------------------------------------------------------------

type Mutation = (doc: Document) => void;

interface Row {
  /** What the row is about, as the test's name. */
  name: string;
  args: string[];
  stdin?: string;
  /** The project: the one init made (default), or an empty directory. */
  project?: 'project' | 'empty';
  mutate?: Mutation;
  code: number;
  /** Must appear in stderr. */
  phrase: string | RegExp;
  /** Must not appear in stderr or stdout (e.g. punycode where the user wrote Unicode). */
  absent?: RegExp;
  /** Run bin/mailrig.js in a child process rather than main in this process. */
  process?: boolean;
  /**
   * Run `mailrig dns` in this process (the field rows, which are many): the loader's message is the
   * question there. That a broken file ends a real mailrig process with exit 2 and the message on
   * stderr is every "… on a broken file" row's proof.
   */
  inProcess?: boolean;
}

const FIRST_DOMAIN = 'example.com';
const IDN = 'bücher.test';
/** A concrete key for each `*` of a schema path, in the project init makes. */
const STAR_KEYS: Record<string, string> = { domains: FIRST_DOMAIN, mailboxes: 'alice', aliases: 'postmaster', sender_domains: FIRST_DOMAIN, recipient_domains: 'outlook.com' };

function concrete(field: string): string[] {
  const parts = field.split('.');
  return parts.map((p, i) => (p === '*' ? (STAR_KEYS[parts[i - 1] ?? ''] ?? p) : p));
}

const set = (field: string, value: unknown): Mutation => (doc) => doc.setIn(concrete(field), value);
const renameKey = (field: string, to: string): Mutation => (doc) => {
  const path = concrete(field);
  const value = doc.getIn(path);
  doc.deleteIn(path);
  doc.setIn([...path.slice(0, -1), to], value);
};
const all = (...ms: Mutation[]): Mutation => (doc) => ms.forEach((m) => m(doc));

/** A valid backup MX entry of servers, for the rows that break one of its fields. */
const BACKUP_MX = { name: 'mx2', role: 'backup-mx', hostname: 'mx2.example.net', ipv4: '198.51.100.20', ssh: 'root@198.51.100.20', release: 'debian-13' };

/** A config every command must refuse before doing anything. */
const BROKEN = set('dns.ttl', '1h');
const BROKEN_PHRASE = /mailrig\.yaml:\d+:\d+: dns\.ttl: expected a number, found the string "1h"/;

/**
 * One row (at least) per field of mailrig.yaml, keyed by its schema path (`*` for a key of a map;
 * a map's own key position is the path ending in `*`). Each is checked with `mailrig dns`, which
 * loads the whole project and writes nothing; the message must name the line and the dotted path.
 */
const FIELD_ROWS: Record<string, Array<{ mutate: Mutation; phrase: string | RegExp }>> = {
  'server.hostname': [
    { mutate: set('server.hostname', 'mail_server.example.com'), phrase: 'is not a fully qualified domain name' },
    { mutate: set('server.hostname', '203.0.113.10'), phrase: 'is not a fully qualified domain name' },
  ],
  'server.ipv4': [
    { mutate: set('server.ipv4', '10.1.2.3'), phrase: 'is a private address (10.0.0.0/8)' },
    { mutate: set('server.ipv4', '127.0.0.1'), phrase: 'is a loopback address' },
    { mutate: set('server.ipv4', '0.0.0.0'), phrase: 'unspecified' },
    { mutate: set('server.ipv4', '224.0.0.5'), phrase: 'multicast' },
    { mutate: set('server.ipv4', '203.0.113.300'), phrase: 'is not an IPv4 address' },
  ],
  'server.ipv6': [
    { mutate: set('server.ipv6', 'fe80::1%eth0'), phrase: 'has a zone index' },
    { mutate: set('server.ipv6', 'fe80::1'), phrase: 'is a link-local address' },
    { mutate: set('server.ipv6', '::1'), phrase: 'is the loopback address' },
    { mutate: set('server.ipv6', 'fd00::25'), phrase: 'unique local' },
    { mutate: set('server.ipv6', '::'), phrase: 'unspecified' },
    { mutate: set('server.ipv6', '2001:db8::g'), phrase: 'is not an IPv6 address' },
  ],
  'server.ssh': [{ mutate: set('server.ssh', 'root@@203.0.113.10'), phrase: 'must be user@host[:port]' }],
  'server.release': [{ mutate: set('server.release', 12), phrase: 'must be one of "debian-12", "debian-13", found the number 12' }],
  'server.allow_private_addresses': [{ mutate: set('server.allow_private_addresses', 'yes please'), phrase: 'expected true or false, found the string "yes please"' }],
  'server.name': [{ mutate: set('server.name', 'Main Host'), phrase: 'server.name: is not a host name for mailrig' }],
  servers: [
    { mutate: set('servers', [{ ...BACKUP_MX, role: 'standby' }]), phrase: "servers.0.release: is debian-13, the primary's (server.release) is debian-12" },
    {
      mutate: set('servers', [
        { ...BACKUP_MX, role: 'standby', release: 'debian-12' },
        { ...BACKUP_MX, name: 'mx3', hostname: 'mx3.example.net', ipv4: '198.51.100.30', ssh: 'root@198.51.100.30', role: 'standby', release: 'debian-12' },
      ]),
      phrase: 'servers.1.role: a second standby',
    },
    { mutate: set('servers', [{ ...BACKUP_MX, hostname: 'mail.example.com' }]), phrase: 'servers.0.hostname: mail.example.com is already the hostname of server' },
    { mutate: set('servers', [{ ...BACKUP_MX, queue_lifetime: 'a week' }]), phrase: 'servers.0.queue_lifetime: is not a time' },
    { mutate: set('servers', [{ ...BACKUP_MX, ssh: undefined }]), phrase: /servers\.0\.ssh: / },
  ],
  admin_email: [{ mutate: set('admin_email', 'admin.example.com'), phrase: 'is not an email address' }],
  'domains.*': [
    { mutate: renameKey('domains.*', 'not a domain'), phrase: '"not a domain" is not a valid domain name' },
    { mutate: renameKey('domains.*', 'localhost'), phrase: 'is not a valid domain name' },
  ],
  'domains.*.mailboxes.*': [
    { mutate: renameKey('domains.*.mailboxes.*', 'a/b'), phrase: 'is not a valid mailbox name' },
    { mutate: renameKey('domains.*.mailboxes.*', 'x|y'), phrase: 'it names a directory on the server' },
  ],
  'domains.*.mailboxes.*.password_hash': [{ mutate: set('domains.*.mailboxes.*.password_hash', 'hunter2'), phrase: 'is not a password hash' }],
  'domains.*.mailboxes.*.quota': [
    { mutate: set('domains.*.mailboxes.*.quota', 'lots'), phrase: 'is not a size' },
    { mutate: set('domains.*.mailboxes.*.quota', '100'), phrase: 'must be 0 (unlimited) or between 100K and' },
  ],
  'domains.*.mailboxes.*.aliases': [
    { mutate: set('domains.*.mailboxes.*.aliases', 'alias'), phrase: 'expected a list, found the string "alias"' },
    { mutate: set('domains.*.mailboxes.*.aliases', ['someone@elsewhere.org']), phrase: 'is not in a domain of this server' },
  ],
  'domains.*.mailboxes.*.vacation.subject': [{ mutate: set('domains.*.mailboxes.*.vacation', { subject: '', body: 'Back on Monday.' }), phrase: 'vacation.subject' }],
  'domains.*.mailboxes.*.vacation.body': [{ mutate: set('domains.*.mailboxes.*.vacation', { subject: 'Away', body: 7 }), phrase: 'expected a string, found the number 7' }],
  'domains.*.mailboxes.*.vacation.from': [{ mutate: set('domains.*.mailboxes.*.vacation', { subject: 'Away', body: 'Back on Monday.', from: 'nobody' }), phrase: 'is not an email address' }],
  'domains.*.mailboxes.*.vacation.until': [{ mutate: set('domains.*.mailboxes.*.vacation', { subject: 'Away', body: 'Back on Monday.', until: 'next week' }), phrase: 'is not a date' },
    { mutate: set('domains.*.mailboxes.*.vacation', { subject: 'Away', body: 'Back on Monday.', until: '2026-02-30' }), phrase: 'is not a day of the calendar' },
  ],
  'domains.*.mailboxes.*.vacation.days': [{ mutate: set('domains.*.mailboxes.*.vacation', { subject: 'Away', body: 'Back on Monday.', days: 90 }), phrase: 'vacation.days' }],
  'domains.*.mailboxes.*.main_password_only': [
    { mutate: set('domains.*.mailboxes.*.main_password_only', ['imap', 'web']), phrase: 'main_password_only' },
    { mutate: set('domains.*.mailboxes.*.main_password_only', ['imap', 'imap']), phrase: 'names a service twice' },
  ],
  'domains.*.mailboxes.*.app_passwords.*': [
    { mutate: set('domains.*.mailboxes.*.app_passwords', { 'My Phone': { hash: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA', created: '2026-07-01' } }), phrase: 'app password names are 1 to 32' },
    {
      mutate: set('domains.*.mailboxes.*.app_passwords', Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, { hash: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA', created: '2026-07-01' }]))),
      phrase: 'at most 8 app passwords',
    },
  ],
  'domains.*.mailboxes.*.app_passwords.*.hash': [{ mutate: set('domains.*.mailboxes.*.app_passwords', { phone: { hash: 'hunter2', created: '2026-07-01' } }), phrase: 'is not a password hash' }],
  'domains.*.mailboxes.*.app_passwords.*.created': [{ mutate: set('domains.*.mailboxes.*.app_passwords', { phone: { ...{ hash: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA', created: '2026-07-01' }, created: 'today' } }), phrase: 'is not a date' }],
  'domains.*.mailboxes.*.app_passwords.*.only': [
    { mutate: set('domains.*.mailboxes.*.app_passwords', { phone: { ...{ hash: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA', created: '2026-07-01' }, only: [] } }), phrase: 'app_passwords.phone.only' },
    { mutate: set('domains.*.mailboxes.*.app_passwords', { phone: { ...{ hash: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA', created: '2026-07-01' }, only: ['carrier-pigeon'] } }), phrase: 'app_passwords.phone.only' },
  ],
  'domains.*.mailboxes.*.limits.per_minute': [{ mutate: set('domains.*.mailboxes.*.limits', { per_minute: 0 }), phrase: 'limits.per_minute: must be a whole number of messages, at least 1' }],
  'domains.*.mailboxes.*.limits.per_day': [{ mutate: set('domains.*.mailboxes.*.limits', { per_day: 'lots' }), phrase: 'limits.per_day: expected a number, found the string "lots"' }],
  'domains.*.mailboxes.*.limits.recipients': [{ mutate: set('domains.*.mailboxes.*.limits', { recipients: 2.5 }), phrase: 'limits.recipients: expected a whole number, found the number 2.5' }],
  'domains.*.mailboxes.*.send_only': [{ mutate: set('domains.*.mailboxes.*.send_only', 'no'), phrase: 'expected true or false, found the string "no"' }],
  'domains.*.aliases.*': [
    { mutate: set('domains.*.aliases.*', 'postmaster'), phrase: 'postmaster@example.com is an alias of itself' },
    {
      mutate: all(set('domains.*.aliases.postmaster', 'abuse'), set('domains.*.aliases.abuse', 'postmaster')),
      phrase: 'alias loop postmaster@example.com → abuse@example.com → postmaster@example.com',
    },
    { mutate: set('domains.*.aliases.*', 'nobody'), phrase: 'is neither a mailbox nor an alias of this server' },
    { mutate: set('domains.*.aliases.*', []), phrase: 'domains.example.com.aliases.postmaster' },
  ],
  'domains.*.catch_all': [{ mutate: set('domains.*.catch_all', 'nobody'), phrase: 'nobody@example.com is neither a mailbox nor an alias' }],
  'domains.*.dmarc.policy': [{ mutate: set('domains.*.dmarc.policy', 'block'), phrase: 'must be one of "none", "quarantine", "reject", found the string "block"' }],
  'domains.*.dmarc.rua': [{ mutate: set('domains.*.dmarc.rua', 'reports'), phrase: 'is not an email address' }],
  'mail.message_size_limit': [
    { mutate: set('mail.message_size_limit', '5T'), phrase: 'must be between 1M and 1G' },
    { mutate: set('mail.message_size_limit', 0), phrase: 'must be between 1M and 1G' },
  ],
  'mail.default_quota': [{ mutate: set('mail.default_quota', -5), phrase: 'mail.default_quota' }],
  'mail.quota_warning.subject': [{ mutate: set('mail.quota_warning', { subject: '', body: 'Nearly full.' }), phrase: 'mail.quota_warning.subject' }],
  'mail.quota_warning.body': [{ mutate: set('mail.quota_warning', { subject: 'Full', body: ['Nearly full.'] }), phrase: 'expected a string, found a list' }],
  'mail.pop3': [{ mutate: set('mail.pop3', 1), phrase: 'expected true or false, found the number 1' }],
  'spam.reject': [{ mutate: set('spam.reject', 'high'), phrase: 'expected a number, found the string "high"' }],
  'spam.add_header': [{ mutate: set('spam.add_header', 50), phrase: 'thresholds must rise' }],
  'spam.greylist': [{ mutate: set('spam.greylist', null), phrase: 'expected a number, found an empty value' }],
  'spam.greylisting': [{ mutate: set('spam.greylisting', 'true-ish'), phrase: 'expected true or false' }],
  'spam.gtube': [{ mutate: set('spam.gtube', [true]), phrase: 'expected true or false, found a list' }],
  'spam.spamhaus_dqs_key': [
    { mutate: set('spam.spamhaus_dqs_key', 'not-a-key'), phrase: 'spam.spamhaus_dqs_key: is not a Spamhaus DQS key' },
    { mutate: set('spam.spamhaus_dqs_key', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), phrase: 'spam.spamhaus_dqs_key: is not a Spamhaus DQS key (26 lower-case letters and digits' },
  ],
  'spam.blocklists': [
    { mutate: set('spam.blocklists', [{ zone: '203.0.113.5', score: 5 }]), phrase: 'spam.blocklists.0.zone: is not a DNS zone name' },
    { mutate: set('spam.blocklists', [{ zone: 'bl.example.net', score: 0 }]), phrase: 'spam.blocklists.0.score: must be a number above 0' },
    { mutate: set('spam.blocklists', [{ zone: 'bl.example.net', score: 4 }, { zone: 'bl.example.net', score: 5 }]), phrase: 'spam.blocklists.1.zone: bl.example.net is already listed at spam.blocklists.0' },
    { mutate: set('spam.blocklists', { zone: 'bl.example.net', score: 4 }), phrase: 'spam.blocklists' },
  ],
  'limits.per_minute': [{ mutate: set('limits.per_minute', -30), phrase: 'limits.per_minute: must be a whole number of messages, at least 1' }],
  'limits.per_day': [{ mutate: set('limits.per_day', 1.5), phrase: 'limits.per_day: expected a whole number, found the number 1.5' }],
  'limits.recipients': [{ mutate: set('limits.recipients', 0), phrase: 'limits.recipients: must be a whole number of recipients, at least 1' }],
  'security.max_auth_failures': [{ mutate: set('security.max_auth_failures', 0), phrase: 'security.max_auth_failures' }],
  'security.ban_minutes': [{ mutate: set('security.ban_minutes', 1.5), phrase: 'expected a whole number' }],
  webmail: [
    { mutate: set('webmail', 'something-else'), phrase: 'webmail: must be one of "roundcube", found the string "something-else"' },
    { mutate: set('webmail', true), phrase: 'webmail: must be one of "roundcube"' },
  ],
  'backup.repository': [{ mutate: set('backup.repository', 'ftp://backup.example.net/x'), phrase: 'is not a restic repository' }],
  'backup.schedule': [{ mutate: all(set('backup.repository', '/var/backups/r'), set('backup.schedule', '25:00')), phrase: 'is not a time of day' }],
  'backup.keep_daily': [{ mutate: all(set('backup.repository', '/var/backups/r'), set('backup.keep_daily', -1)), phrase: 'backup.keep_daily' }],
  'backup.keep_weekly': [{ mutate: all(set('backup.repository', '/var/backups/r'), set('backup.keep_weekly', 'four')), phrase: 'expected a number' }],
  'backup.keep_monthly': [{ mutate: all(set('backup.repository', '/var/backups/r'), set('backup.keep_monthly', 1.5)), phrase: 'expected a whole number' }],
  dav: [
    { mutate: set('dav', 'nextcloud'), phrase: 'dav: must be one of "radicale", found the string "nextcloud"' },
    { mutate: set('dav', true), phrase: 'dav: ' },
  ],
  'tls.acme': [{ mutate: set('tls.acme', 'http://acme.example.net/dir'), phrase: 'https:// ACME directory URL' }],
  'tls.ca_bundle': [{ mutate: set('tls.ca_bundle', 7), phrase: 'expected a string, found the number 7' }],
  'relay.default.host': [
    { mutate: set('relay.default', { host: '192.0.2.25', port: 587, username: 'u' }), phrase: 'relay.default.host: is not a host name' },
    { mutate: set('relay.default', { host: 'smtp relay', port: 587, username: 'u' }), phrase: 'is not a host name' },
  ],
  'relay.default.port': [{ mutate: set('relay.default', { host: 'smtp.relay.example.net', port: 2525, username: 'u' }), phrase: 'relay.default.port: must be 587 (submission, STARTTLS), 465' }],
  'relay.default.username': [
    { mutate: set('relay.default', { host: 'smtp.relay.example.net', port: 587 }), phrase: 'relay.default.username: is required for port 587' },
    { mutate: set('relay.default', { host: 'smtp.relay.example.net' }), phrase: 'relay.default.username: is required for port 587' },
  ],
  'relay.sender_domains.*': [{ mutate: set('relay.sender_domains', { 'example.org': { host: 'smtp.relay.example.net', port: 25 } }), phrase: 'relay.sender_domains.example.org: "example.org" is not a mail domain of this server' }],
  'relay.sender_domains.*.host': [{ mutate: set('relay.sender_domains.*', { host: 'relay', port: 25 }), phrase: 'relay.sender_domains.example.com.host: is not a host name' }],
  'relay.sender_domains.*.port': [{ mutate: set('relay.sender_domains.*', { host: 'smtp.relay.example.net', port: 0 }), phrase: 'relay.sender_domains.example.com.port' }],
  'relay.sender_domains.*.username': [{ mutate: set('relay.sender_domains.*', { host: 'smtp.relay.example.net', port: 465 }), phrase: 'relay.sender_domains.example.com.username: is required for port 465' }],
  'relay.recipient_domains.*': [
    { mutate: set('relay.recipient_domains', { [FIRST_DOMAIN]: { host: 'smtp.relay.example.net', port: 25 } }), phrase: 'is a mail domain of this server' },
    { mutate: set('relay.recipient_domains', { 'not a domain': { host: 'smtp.relay.example.net', port: 25 } }), phrase: '"not a domain" is not a valid domain name' },
  ],
  'relay.recipient_domains.*.host': [{ mutate: set('relay.recipient_domains.*', { host: 'smtp_relay.example.net', port: 25 }), phrase: 'relay.recipient_domains.outlook.com.host: is not a host name' }],
  'relay.recipient_domains.*.port': [{ mutate: set('relay.recipient_domains.*', { host: 'smtp.relay.example.net', port: '587' }), phrase: 'expected a number, found the string "587"' }],
  'relay.recipient_domains.*.username': [
    {
      mutate: all(set('relay.default', { host: 'smtp.relay.example.net', port: 587, username: 'one' }), set('relay.recipient_domains.*', { host: 'smtp.relay.example.net', port: 587, username: 'two' })),
      phrase: 'is already used with another login at relay.default',
    },
  ],
  'relay.ca_file': [{ mutate: set('relay.ca_file', 'no-such-ca.pem'), phrase: 'relay.ca_file: cannot read' }],
  'resolver.forwarders': [
    { mutate: set('resolver.forwarders', ['dns.example.net']), phrase: 'resolver.forwarders.0: is not an IPv4 or IPv6 address, optionally with @port' },
    { mutate: set('resolver.forwarders', ['192.0.2.53:53']), phrase: 'try 192.0.2.53 or 2001:db8::53@5353' },
  ],
  'resolver.trust_anchors': [
    { mutate: set('resolver.trust_anchors', ['remote.test. IN A 192.0.2.1']), phrase: 'resolver.trust_anchors.0: is of type A; a trust anchor is a DS or DNSKEY record' },
    { mutate: set('resolver.trust_anchors', ['remote.test. IN DS 12345 13 2 not-hex']), phrase: 'digest is not hexadecimal' },
  ],
  'resolver.root_trust_anchor': [
    { mutate: set('resolver.root_trust_anchor', false), phrase: 'resolver.root_trust_anchor: can be false only with resolver.forwarders' },
    { mutate: set('resolver.root_trust_anchor', 'no'), phrase: 'resolver.root_trust_anchor: expected true or false, found the string "no"' },
  ],
  'tls_policy.*': [
    { mutate: set('tls_policy', { 'partner.example': 'none' }), phrase: 'tls_policy.partner.example: none is not offered' },
    { mutate: set('tls_policy', { 'partner.example': 'strict' }), phrase: 'must be one of "may", "encrypt", "dane", "dane-only", "verify", "secure"' },
    { mutate: set('tls_policy', { [FIRST_DOMAIN]: 'encrypt' }), phrase: 'is a mail domain of this server' },
  ],
  'dns.provider': [
    { mutate: set('dns.provider', 'route53'), phrase: 'must be one of "manual", "rfc2136"' },
    { mutate: set('dns.provider', 'rfc2136'), phrase: 'dns.server: is required when dns.provider is rfc2136' },
  ],
  'dns.ttl': [
    { mutate: BROKEN, phrase: BROKEN_PHRASE },
    { mutate: set('dns.ttl', 5), phrase: 'must be at least 60 (seconds), found 5' },
    { mutate: set('dns.ttl', 99999999999), phrase: 'must be at most 604800' },
  ],
  'dns.server': [{ mutate: set('dns.server', 'ns1 example net'), phrase: 'is not host[:port]' }],
  'dns.key_name': [{ mutate: set('dns.key_name', ['k']), phrase: 'expected a string, found a list' }],
  'dns.key_file': [{ mutate: set('dns.key_file', { path: 'x' }), phrase: 'expected a string, found a map of keys' }],
};

/** Rows for commands and their arguments, including setup with flags that disagree with the file. */
const COMMAND_ROWS: Row[] = [
  // init
  { name: 'init over an existing file', args: ['init', '--non-interactive'], code: 2, phrase: 'already exists; use --force' },
  { name: 'init without a domain', project: 'empty', args: ['init', '--non-interactive', '--ipv4', '203.0.113.10'], code: 2, phrase: '--non-interactive needs --domain' },
  ...(
    [
      ['--ipv4', '10.0.0.7', 'is a private address (10.0.0.0/8)'],
      ['--ipv4', '127.0.0.1', 'loopback'],
      ['--ipv4', '0.0.0.0', 'unspecified'],
      ['--ipv4', '169.254.1.1', 'link-local'],
      ['--ipv6', 'fe80::1%eth0', 'has a zone index'],
      ['--ipv6', 'fe80::1', 'is a link-local address'],
      ['--ipv6', 'ff02::1', 'multicast'],
      ['--hostname', 'mail_1.example.com', 'must be a fully qualified domain name'],
      ['--ssh', 'root@@x', 'must be user@host[:port]'],
      ['--admin-email', 'nobody', 'must be an email address'],
      ['--mailbox', 'a/b@example.com', 'is not a valid mailbox name'],
      ['--acme', 'http://insecure.example/dir', 'https:// ACME directory URL'],
    ] as const
  ).map(
    ([flag, value, phrase]): Row => ({
      name: `init ${flag} ${value}`,
      project: 'empty',
      args: ['init', '--non-interactive', '--domain', 'example.com', '--ipv4', '203.0.113.10', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed', flag, value],
      stdin: PASSWORD,
      code: 2,
      phrase,
    }),
  ),
  { name: 'init with a domain that is not one', project: 'empty', args: ['init', '--non-interactive', '--domain', 'exa mple'], code: 2, phrase: 'is not a domain name' },
  { name: 'init --release 11', project: 'empty', args: ['init', '--release', 'debian-11'], code: 2, phrase: 'Allowed choices are debian-12, debian-13' },

  // setup with a mailrig.yaml: flags that disagree are refused, never ignored
  {
    name: 'setup --ssh --domain that disagree with the file',
    args: ['setup', '--ssh', 'root@192.0.2.55', '--domain', 'mydomain.org', '--yes'],
    code: 2,
    phrase: /--ssh root@192\.0\.2\.55: mailrig\.yaml has server\.ssh: root@203\.0\.113\.10[^\n]*\n {2}--domain mydomain\.org: not a mail domain in mailrig\.yaml[^\n]*mailrig domain add mydomain\.org/,
  },
  {
    name: 'setup --dry-run does not render the file while claiming the flags',
    args: ['setup', '--dry-run', '--ssh', 'root@192.0.2.55', '--domain', 'mydomain.org'],
    code: 2,
    phrase: 'these flags say something else; nothing was changed',
  },
  { name: 'setup --ipv4 that disagrees', args: ['setup', '--dry-run', '--ipv4', '198.51.100.20'], code: 2, phrase: '--ipv4 198.51.100.20: mailrig.yaml has server.ipv4: 203.0.113.10; edit server.ipv4' },
  { name: 'setup --hostname that disagrees', args: ['setup', '--dry-run', '--hostname', 'mx.example.com'], code: 2, phrase: 'has server.hostname: mail.example.com' },
  { name: 'setup --release that disagrees', args: ['setup', '--dry-run', '--release', 'debian-13'], code: 2, phrase: 'has server.release: debian-12' },
  { name: 'setup --admin-email that disagrees', args: ['setup', '--dry-run', '--admin-email', 'hostmaster@example.com'], code: 2, phrase: 'has admin_email: postmaster@example.com' },
  { name: 'setup --acme that disagrees', args: ['setup', '--dry-run', '--acme', 'letsencrypt'], code: 2, phrase: 'has tls.acme: self-signed' },
  { name: 'setup --ipv6 the file does not have', args: ['setup', '--dry-run', '--ipv6', '2001:db8::25'], code: 2, phrase: 'has server.ipv6: (not set)' },
  { name: 'setup --mailbox the file does not have', args: ['setup', '--dry-run', '--mailbox', 'bob@example.com'], code: 2, phrase: 'mailrig user add bob@example.com' },
  {
    name: 'setup --password-stdin with another password',
    args: ['setup', '--dry-run', '--mailbox', 'alice@example.com', '--password-stdin'],
    stdin: 'Some-other-password-2026',
    code: 2,
    phrase: 'not the password mailrig.yaml has for alice@example.com; change it with mailrig user passwd',
  },
  { name: 'setup --allow-private-addresses the file does not set', args: ['setup', '--dry-run', '--allow-private-addresses'], code: 2, phrase: 'does not set server.allow_private_addresses' },
  { name: 'setup --ipv4 127.0.0.1', args: ['setup', '--dry-run', '--ipv4', '127.0.0.1'], code: 2, phrase: '--ipv4: "127.0.0.1" is a loopback address' },
  { name: 'setup --ipv6 fe80::1%eth0', args: ['setup', '--dry-run', '--ipv6', 'fe80::1%eth0'], code: 2, phrase: 'has a zone index' },
  { name: 'setup on a broken file', process: true, args: ['setup', '--dry-run'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },

  // the rest of the commands
  { name: 'plan on a broken file', process: true, args: ['plan'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'apply with an unknown option', process: true, args: ['apply', '--bogus'], code: 2, phrase: "unknown option '--bogus'" },
  { name: 'apply on a broken file', process: true, args: ['apply', '--yes'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'render without --out', args: ['render'], code: 2, phrase: "required option '--out <dir>'" },
  { name: 'render --out onto a file', args: ['render', '--out', 'mailrig.yaml'], code: 2, phrase: 'exists and is not a directory' },
  { name: 'dns --format xml', args: ['dns', '--format', 'xml'], code: 2, phrase: 'Allowed choices are table, bind, json' },
  { name: 'dns --domain of another server', args: ['dns', '--domain', 'elsewhere.org'], code: 2, phrase: `not one of the zones mailrig writes records for (example.com, ${IDN})`, absent: /xn--/ },
  { name: 'dns push with manual DNS', args: ['dns', 'push', '--yes'], code: 2, phrase: 'rfc2136' },
  { name: 'user add: a name that is no directory', args: ['user', 'add', 'a/b@example.com', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'is not a valid mailbox name' },
  { name: 'user add: a domain of another server', args: ['user', 'add', 'bob@elsewhere.org', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'is not a mail domain of this server' },
  { name: 'user add: one that exists', args: ['user', 'add', 'alice@example.com', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'alice@example.com' },
  { name: 'user add: an absurd quota', args: ['user', 'add', 'bob@example.com', '--password-stdin', '--quota', '12'], stdin: PASSWORD, code: 2, phrase: 'between 100K and' },
  { name: 'user add: a weak password', process: true, args: ['user', 'add', 'bob@example.com', '--password-stdin'], stdin: 'short', code: 2, phrase: 'shorter than 12 characters' },
  {
    name: 'user add in an IDN domain names it as written',
    args: ['user', 'add', `a/b@${IDN}`, '--password-stdin'],
    stdin: PASSWORD,
    code: 2,
    phrase: IDN,
    absent: /xn--/,
  },
  { name: 'user rm: no such mailbox', args: ['user', 'rm', 'nobody@example.com'], code: 2, phrase: 'nobody@example.com: no such mailbox' },
  { name: 'user passwd: no such mailbox', args: ['user', 'passwd', 'nobody@example.com', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'no such mailbox' },
  { name: 'user vacation: neither on nor off', args: ['user', 'vacation', 'alice@example.com', 'maybe'], code: 2, phrase: 'say on or off' },
  { name: 'user vacation: no such mailbox', args: ['user', 'vacation', 'nobody@example.com', 'off'], code: 2, phrase: 'no such mailbox' },
  { name: 'user app-password add: no --name', args: ['user', 'app-password', 'add', 'alice@example.com'], code: 2, phrase: '--name' },
  { name: 'user app-password add: a name with spaces', args: ['user', 'app-password', 'add', 'alice@example.com', '--name', 'my phone'], code: 2, phrase: '--name my phone' },
  { name: 'user app-password add: an unknown service', args: ['user', 'app-password', 'add', 'alice@example.com', '--name', 'phone', '--only', 'imap,web'], code: 2, phrase: '"web" is not a service' },
  { name: 'user app-password add: no such mailbox', args: ['user', 'app-password', 'add', 'nobody@example.com', '--name', 'phone'], code: 2, phrase: 'no such mailbox' },
  { name: 'user app-password list: no such mailbox', args: ['user', 'app-password', 'list', 'nobody@example.com'], code: 2, phrase: 'no such mailbox' },
  { name: 'user app-password rm: no such app password', args: ['user', 'app-password', 'rm', 'alice@example.com', 'phone'], code: 2, phrase: 'no app password named phone' },
  { name: 'upgrade: a release mailrig does not upgrade to', args: ['upgrade', '--to', 'debian-14', '--yes'], code: 2, phrase: '--to debian-14: mailrig upgrades to debian-13 only' },
  { name: 'upgrade: no --to', args: ['upgrade', '--yes'], code: 2, phrase: '--to' },
  { name: 'failover: no standby in mailrig.yaml', args: ['failover', '--to', 'standby', '--yes'], code: 2, phrase: 'no standby (an entry of servers: with role: standby)' },
  { name: 'failback: no standby in mailrig.yaml', args: ['failback', '--yes'], code: 2, phrase: 'no standby' },
  { name: 'migrate: no --from', args: ['migrate', 'alice@example.com', '--user', 'alice', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: '--from' },
  { name: 'migrate: --from not an IMAP URL', args: ['migrate', 'alice@example.com', '--from', 'https://old.example', '--user', 'alice', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: '--from https://old.example' },
  { name: 'migrate: --from with a bad port', args: ['migrate', 'alice@example.com', '--from', 'imaps://old.example:99999', '--user', 'alice', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'not an IMAP server address' },
  { name: 'migrate: no --password-stdin', args: ['migrate', 'alice@example.com', '--from', 'imaps://old.example', '--user', 'alice'], code: 2, phrase: '--password-stdin' },
  { name: 'migrate: no --user', args: ['migrate', 'alice@example.com', '--from', 'imaps://old.example', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: '--user' },
  { name: 'migrate: no such mailbox', args: ['migrate', 'nobody@example.com', '--from', 'imaps://old.example', '--user', 'x', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'no such mailbox' },
  { name: 'migrate: --ca-file missing', args: ['migrate', 'alice@example.com', '--from', 'imaps://old.example', '--user', 'x', '--password-stdin', '--ca-file', 'nope.pem'], stdin: PASSWORD, code: 2, phrase: '--ca-file nope.pem' },
  { name: 'migrate: --all file missing', args: ['migrate', '--all', 'nope.csv', '--from', 'imaps://old.example', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: '--all nope.csv' },
  { name: 'user quota: not a size', args: ['user', 'quota', 'alice@example.com', 'lots'], code: 2, phrase: 'lots' },
  { name: 'user quota: absurd', args: ['user', 'quota', 'alice@example.com', '100'], code: 2, phrase: 'between 100K and' },
  { name: 'user list on a broken file', process: true, args: ['user', 'list'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'alias add: an alias of itself', args: ['alias', 'add', 'abuse@example.com', 'abuse'], code: 2, phrase: 'abuse@example.com is an alias of itself' },
  { name: 'alias add: a loop', args: ['alias', 'add', 'postmaster@example.com', 'abuse'], mutate: set('domains.*.aliases.abuse', 'postmaster'), code: 2, phrase: 'alias loop' },
  { name: 'alias add: a target that is no address', args: ['alias', 'add', 'team@example.com', 'not an address'], code: 2, phrase: 'not an address' },
  { name: 'alias rm: no such alias', args: ['alias', 'rm', 'nobody@example.com'], code: 2, phrase: 'no such alias' },
  { name: 'alias list on a broken file', process: true, args: ['alias', 'list'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'domain add: not a host name', args: ['domain', 'add', 'under_score.example'], code: 2, phrase: 'not a valid domain name' },
  { name: 'domain add: one label', args: ['domain', 'add', 'localhost'], code: 2, phrase: 'localhost' },
  { name: 'domain rm: one of another server', args: ['domain', 'rm', 'elsewhere.org'], code: 2, phrase: 'is not a mail domain of this server' },
  { name: 'domain rm: one with mailboxes', args: ['domain', 'rm', 'example.com'], code: 2, phrase: 'still has 1 mailbox' },
  { name: 'domain list on a broken file', process: true, args: ['domain', 'list'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'dkim rotate: an unknown action', args: ['dkim', 'rotate', 'spin'], code: 2, phrase: 'spin' },
  { name: 'cert status on a broken file', process: true, args: ['cert', 'status'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'cert renew on a broken file', process: true, args: ['cert', 'renew'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'tls roll-key on a broken file', process: true, args: ['tls', 'roll-key', '--yes'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'check on a broken file', process: true, args: ['check'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  // The target goes into the probe run on the host: only a host name or an address passes.
  { name: 'check --outbound-target with shell in it', args: ['check', '--outbound-target', 'x$(id):25'], code: 2, phrase: '--outbound-target "x$(id):25": expected host[:port]' },
  { name: 'check --outbound-target with port 0', args: ['check', '--outbound-target', 'mx.example.net:0'], code: 2, phrase: 'port 1-65535' },
  { name: 'setup --outbound-target that is not a host', args: ['setup', '--yes', '--outbound-target', 'mx example net'], code: 2, phrase: '--outbound-target "mx example net": expected host[:port]' },
  { name: 'backup init: not a restic repository', args: ['backup', 'init', '--repo', 'ftp://backup.example.net/x', '--no-apply'], code: 2, phrase: 'not a repository mailrig sets up' },
  { name: 'backup status without backups', args: ['backup', 'status'], code: 2, phrase: 'no backup section; run mailrig backup init' },
  { name: 'backup now without backups', args: ['backup', 'now'], code: 2, phrase: 'no backup section; run mailrig backup init' },
  { name: 'relay password: not a relay', args: ['relay', 'password', 'smtp.relay.example.net', '--password-stdin'], stdin: PASSWORD, code: 2, phrase: 'HOST smtp.relay.example.net: not a relay in' },
  {
    name: 'relay password: a relay without a login',
    args: ['relay', 'password', 'smtp.relay.example.net', '--password-stdin'],
    stdin: PASSWORD,
    mutate: set('relay.default', { host: 'smtp.relay.example.net', port: 25 }),
    code: 2,
    phrase: 'have no username',
  },
  {
    name: 'relay password: empty standard input',
    args: ['relay', 'password', 'smtp.relay.example.net', '--password-stdin'],
    mutate: set('relay.default', { host: 'smtp.relay.example.net', port: 587, username: 'u' }),
    code: 2,
    phrase: 'standard input was empty',
  },
  { name: 'relay list on a broken file', process: true, args: ['relay', 'list'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
  { name: 'restore without --mailbox', args: ['restore'], code: 2, phrase: "required option '--mailbox <address>'" },
  { name: 'reports --since without a unit', args: ['reports', '--since', '7'], code: 2, phrase: '--since 7: not a period like 7d, 12h or 2w' },
  { name: 'reports --since zero', args: ['reports', '--since', '0d'], code: 2, phrase: '--since 0d: give a period of 1h to' },
  { name: 'reports --since a day that does not exist', args: ['reports', '--since', '2025-02-30'], code: 2, phrase: '--since 2025-02-30: not a calendar date' },
  { name: 'reports --since a day in the future', args: ['reports', '--since', '2999-01-01'], code: 2, phrase: 'a day in the future' },
  { name: 'reports --domain of another server', args: ['reports', '--domain', 'elsewhere.org'], code: 2, phrase: '--domain elsewhere.org: not a mail domain of this server' },
  {
    name: 'reports when no report address reaches a mailbox here',
    args: ['reports'],
    mutate: set('admin_email', 'hostmaster@elsewhere.org'),
    code: 2,
    phrase: 'no report address is delivered to a mailbox on this server (hostmaster@elsewhere.org)',
  },
  { name: 'reports on a broken file', process: true, args: ['reports'], mutate: BROKEN, code: 2, phrase: BROKEN_PHRASE },
];

// ---- coverage ---------------------------------------------------------------------------------

/** Every runnable command, e.g. "user add", "dns", "dns push". */
function commandNames(cmd: Command, prefix: string[] = []): string[] {
  return cmd.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    // A command with its own action runs by itself (dns); one without is only a group (user).
    const runs = (c as unknown as { _actionHandler: unknown })._actionHandler !== null;
    return [...(runs ? [path.join(' ')] : []), ...commandNames(c, path)];
  });
}

/** Every field of mailrig.yaml by schema path; a key of a map is `*`, and the key position itself is a field. */
export function schemaFields(): string[] {
  const fields: string[] = [];
  const walk = (schema: z.core.$ZodType, path: string[]) => {
    let def = schema._zod.def;
    while (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'pipe') {
      def = (def.type === 'pipe' ? (def as z.core.$ZodPipeDef).in : (def as z.core.$ZodOptionalDef).innerType)._zod.def;
    }
    if (def.type === 'object') {
      for (const [key, child] of Object.entries((def as z.core.$ZodObjectDef).shape)) walk(child, [...path, key]);
    } else if (def.type === 'record') {
      const valueType = (def as z.core.$ZodRecordDef).valueType;
      let inner = valueType._zod.def;
      while (inner.type === 'optional' || inner.type === 'default') inner = (inner as z.core.$ZodOptionalDef).innerType._zod.def;
      // A map of objects: its keys are names (a field), its values have fields of their own.
      if (inner.type === 'object') fields.push([...path, '*'].join('.'));
      walk(valueType, [...path, '*']);
    } else {
      fields.push(path.join('.'));
    }
  };
  walk(configSchema, []);
  return fields;
}

// ---- the test ---------------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'mailrig-bad-input-'));
const template = join(scratch, 'template');
mkdirSync(join(scratch, 'home'));

function fieldRows(): Row[] {
  return Object.entries(FIELD_ROWS).flatMap(([field, cases]) =>
    cases.map(
      (c, i): Row => ({
        name: `mailrig.yaml ${field}${cases.length > 1 ? ` #${i + 1}` : ''}`,
        args: ['dns'],
        inProcess: true,
        mutate: c.mutate,
        code: 2,
        phrase: c.phrase,
      }),
    ),
  );
}

let counter = 0;
async function runRow(row: Row): Promise<void> {
  const dir = join(scratch, `row-${++counter}`);
  if (row.project === 'empty') mkdirSync(dir);
  else cpSync(template, dir, { recursive: true });
  if (row.mutate) {
    const file = join(dir, 'mailrig.yaml');
    const doc = parseDocument(readFileSync(file, 'utf8'));
    row.mutate(doc);
    writeFileSync(file, doc.toString());
  }
  const before = treeHash(dir);
  const r = row.inProcess
    ? await dnsInProcess(dir)
    : row.process
      ? await mailrig(row.args, dir, row.stdin ?? '')
      : await mailrigInProcess(row.args, dir, row.stdin ?? '', userEnv(dir), TIMEOUT_MS);
  const shown = `mailrig ${row.args.join(' ')}\nexit ${r.code}\n--- stdout\n${r.out.slice(-2000)}\n--- stderr\n${r.err.slice(-2000)}`;
  assert.equal(r.code, row.code, shown);
  if (typeof row.phrase === 'string') assert.ok(r.err.includes(row.phrase), `stderr lacks ${JSON.stringify(row.phrase)}\n${shown}`);
  else assert.match(r.err, row.phrase, shown);
  assert.doesNotMatch(r.err, /this is a bug in mailrig/, shown);
  if (row.absent) assert.doesNotMatch(r.err + r.out, row.absent, shown);
  assert.equal(treeHash(dir), before, `the project changed on disk\n${shown}`);
  rmSync(dir, { recursive: true, force: true });
}

describe('bad input: refused with exit 2, a clear message, and nothing changed', { concurrency: 2 }, () => {
  before(async () => {
    mkdirSync(template);
    const r = await mailrig(
      ['init', '--non-interactive', '--domain', FIRST_DOMAIN, '--domain', IDN, '--ipv4', '203.0.113.10', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed'],
      template,
      PASSWORD,
    );
    assert.equal(r.code, 0, r.err);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('has a row for every command of the CLI', () => {
    const names = commandNames(buildProgram());
    // A row covers the longest command its arguments start with (`dns push …` is dns push, not dns).
    const commandOf = (args: string[]) =>
      names.filter((n) => n.split(' ').every((w, i) => args[i] === w)).sort((a, b) => b.length - a.length)[0];
    const covered = new Set(COMMAND_ROWS.map((r) => commandOf(r.args)));
    assert.deepEqual(names.filter((n) => !covered.has(n)), [], 'commands without a row in COMMAND_ROWS');
  });

  it('has a row for every field of mailrig.yaml', () => {
    const fields = schemaFields();
    assert.deepEqual(fields.filter((f) => !(f in FIELD_ROWS)), [], 'fields without a row in FIELD_ROWS');
    assert.deepEqual(Object.keys(FIELD_ROWS).filter((f) => !fields.includes(f)), [], 'rows for fields the schema does not have');
  });

  for (const row of [...COMMAND_ROWS, ...fieldRows()]) it(row.name, () => runRow(row));
});

describe('setup with a mailrig.yaml: flags that agree are fine', () => {
  it("runs the README's first command twice: the second run uses the file, which agrees with every flag", async () => {
    const base = mkdtempSync(join(tmpdir(), 'mailrig-readme-'));
    const dir = join(base, 'project');
    mkdirSync(dir);
    mkdirSync(join(base, 'home'));
    try {
      const args = ['setup', '--dry-run', '--non-interactive', '--domain', 'example.com', '--ipv4', '203.0.113.10', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed'];
      const first = await mailrig(args, dir, `${PASSWORD}\n`);
      assert.equal(first.code, 0, first.err);
      const config = readFileSync(join(dir, 'mailrig.yaml'), 'utf8');
      const second = await mailrig(args, dir, `${PASSWORD}\n`);
      assert.equal(second.code, 0, second.err);
      assert.match(second.out, /using mailrig\.yaml \(the flags given agree with it\)/);
      assert.equal(readFileSync(join(dir, 'mailrig.yaml'), 'utf8'), config);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
