// The render matrix: each case is a config (built through the same schema as mailrig.yaml) rendered
// for each release. Golden trees live in test/fixtures/render/golden/<case>-<release>/.
import type { Config, Release } from '../../src/config/model.js';
import type { RawConfigInput } from '../../src/config/schema.js';
import type { RenderContext } from '../../src/render/context.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forHost, standbyOf } from '../../src/config/model.js';
import { loadReplicationKeys } from '../../src/keys/replication.js';
import { configFrom, FIXTURES, fixtureKeys, TEST_HASH } from './fixtures.js';

export interface RenderCase {
  name: string;
  releases: Release[];
  /** The config for one release (only server.release differs between releases). */
  config: (release: Release) => Config;
  /** Relay passwords in the key store, by host. */
  relayPasswords?: Record<string, string>;
  /** The host it is rendered for, when not the primary (its certificate: tls/selfsigned-<name>.crt). */
  host?: string;
}

const BOTH: Release[] = ['debian-12', 'debian-13'];

function server(release: Release, ipv6?: string): RawConfigInput['server'] {
  return { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release, ...(ipv6 ? { ipv6 } : {}) };
}

function standbyConfig(release: Release) {
  return configFrom({
    server: server(release),
    servers: [{ name: 'standby', role: 'standby', hostname: 'mail2.example.net', ipv4: '198.51.100.40', ssh: 'root@198.51.100.40', release }],
    admin_email: 'admin@example.com',
    domains: {
      'example.com': {
        mailboxes: { alice: { password_hash: TEST_HASH }, noreply: { password_hash: TEST_HASH, send_only: true } },
        aliases: { postmaster: 'alice' },
      },
    },
    tls: { acme: 'self-signed' },
  });
}

export const RENDER_CASES: RenderCase[] = [
  {
    // The smallest real server: one domain, one mailbox with an alias, postmaster/abuse aliases.
    name: 'one-domain',
    releases: BOTH,
    config: (release) =>
      configFrom({
        server: server(release),
        admin_email: 'admin@example.com',
        domains: {
          'example.com': {
            mailboxes: { alice: { password_hash: TEST_HASH, quota: '2G', aliases: ['a.smith'] } },
            aliases: { postmaster: 'alice', abuse: 'alice' },
          },
        },
      }),
  },
  {
    // Three domains, one of them an IDN; owned and standalone aliases (one to an outside address), a
    // catch-all, a send-only mailbox, dual-stack and POP3; a resolver that forwards to a private DNS
    // tree with its own trust anchor, and per-destination TLS levels; Spamhaus through DQS, two more
    // blocklists.
    name: 'three-domains',
    releases: BOTH,
    config: (release) =>
      configFrom({
        server: server(release, '2001:db8::10'),
        admin_email: 'admin@example.com',
        domains: {
          'example.com': {
            mailboxes: {
              alice: { password_hash: TEST_HASH, quota: '10G', aliases: ['a.smith', 'alice@example.net'] },
              bob: {
                password_hash: TEST_HASH,
                vacation: { subject: 'Away until the 31st', body: 'I read mail again from September 1st.\nUrgent: "alice".\n', until: '2026-08-31' },
              },
              noreply: { password_hash: TEST_HASH, send_only: true },
            },
            aliases: { postmaster: 'alice', abuse: ['alice', 'bob'], sales: ['bob', 'partner@example.org'] },
          },
          'example.net': {
            mailboxes: { carol: { password_hash: TEST_HASH, quota: '1G' } },
            aliases: { info: 'carol' },
            catch_all: 'carol',
          },
          'bücher.example': {
            mailboxes: {
              dave: {
                password_hash: TEST_HASH,
                aliases: ['bestellung'],
                vacation: { subject: 'Abwesend', body: 'Ich bin bis Montag nicht im Büro.', from: 'dave@bücher.example', days: 3 },
              },
            },
            aliases: { postmaster: 'dave@bücher.example' },
          },
        },
        resolver: {
          forwarders: ['192.0.2.53', '2001:db8::53', '192.0.2.54@5353'],
          trust_anchors: ['remote.test. IN DS 12345 13 2 3F0A1E2B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7'],
          root_trust_anchor: false,
        },
        tls_policy: { 'partner.example': 'encrypt', '.bank.example': 'dane-only', 'bücher.test': 'secure' },
        mail: {
          pop3: true,
          default_quota: '5G',
          quota_warning: { subject: 'Postfach zu {percent}% voll', body: "{address}: {percent}% des Speichers belegt; it's time to clean up.\n" },
        },
        // A Spamhaus DQS key (a made-up one) and two more blocklists.
        spam: {
          spamhaus_dqs_key: 'mailrigtestkey0123456789ab',
          blocklists: [
            { zone: 'bl.example.net', score: 6 },
            { zone: 'dnsbl-6.example.org', score: 2.5 },
          ],
        },
      }),
  },
  {
    // IPv4 only, POP3 off, two domains with a catch-all next to a send-only mailbox, smaller messages;
    // relays: a default one on 587, one on 465 for mail from example.org, one without a login on 25
    // for mail to outlook.com; one more blocklist, Spamhaus through the public mirrors; calendars and
    // contacts (Radicale), with an app password for them alone and a main password that is not for them.
    name: 'ipv4-only-pop3-off',
    releases: BOTH,
    relayPasswords: { 'smtp.relay.example.net': 'relay-password-1', 'smtps.relay.example.net': 'relay-password-2' },
    config: (release) =>
      configFrom({
        server: server(release),
        admin_email: 'hostmaster@example.org',
        domains: {
          'example.com': {
            mailboxes: {
              alice: {
                password_hash: TEST_HASH,
                main_password_only: ['imap', 'smtp', 'sieve'],
                app_passwords: { phone: { hash: TEST_HASH, created: '2026-07-01', only: ['dav'] } },
              },
            },
            aliases: { postmaster: 'alice' },
          },
          'example.org': {
            mailboxes: {
              erin: { password_hash: TEST_HASH, aliases: ['hostmaster'] },
              alerts: { password_hash: TEST_HASH, send_only: true },
            },
            catch_all: 'erin',
          },
        },
        mail: { pop3: false, message_size_limit: '25M' },
        spam: { blocklists: [{ zone: 'rbl.example.org', score: 20 }] },
        relay: {
          default: { host: 'smtp.relay.example.net', port: 587, username: 'mailrig@example.com' },
          sender_domains: { 'example.org': { host: 'smtps.relay.example.net', port: 465, username: 'org' } },
          recipient_domains: { 'outlook.com': { host: 'mx.smarthost.example.net', port: 25 } },
        },
        dav: 'radicale',
      }),
  },
  {
    // Webmail on (Roundcube), with the self-signed certificate as the loopback connections' trust
    // anchor and a smaller message size limit for the upload limits.
    name: 'webmail',
    releases: BOTH,
    config: (release) =>
      configFrom({
        server: server(release),
        admin_email: 'hostmaster@example.com',
        domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
        mail: { message_size_limit: '30M' },
        tls: { acme: 'self-signed' },
        webmail: 'roundcube',
      }),
  },
  {
    // A backup MX beside the primary, on the other release: Postfix queues mail for two domains'
    // recipients (a catch-all, a send-only mailbox) for the primary, for a week; dual-stack.
    name: 'backup-mx',
    releases: BOTH,
    host: 'mx2',
    config: (release) =>
      configFrom({
        server: server(release === 'debian-12' ? 'debian-13' : 'debian-12'),
        servers: [{ name: 'mx2', role: 'backup-mx', hostname: 'mx2.example.net', ipv4: '198.51.100.20', ipv6: '2001:db8::20', ssh: 'root@198.51.100.20', release, queue_lifetime: '7d' }],
        admin_email: 'admin@example.com',
        domains: {
          'example.com': {
            mailboxes: { alice: { password_hash: TEST_HASH, aliases: ['a.smith'] }, noreply: { password_hash: TEST_HASH, send_only: true } },
            aliases: { postmaster: 'alice', abuse: 'alice' },
          },
          'example.org': { mailboxes: { bob: { password_hash: TEST_HASH } }, catch_all: 'bob' },
        },
        tls: { acme: 'self-signed' },
      }),
  },
  {
    // The primary of that mail system, on its own release, with two backup MX hosts (one
    // dual-stack): postscreen lets them through, and rspamd judges what they pass on by the address
    // in their Received: header; greylisting on, so it leaves their mail alone.
    name: 'primary-with-backup-mx',
    releases: BOTH,
    config: (release) =>
      configFrom({
        server: server(release, '2001:db8::10'),
        servers: [
          { name: 'mx2', role: 'backup-mx', hostname: 'mx2.example.net', ipv4: '198.51.100.20', ipv6: '2001:db8::20', ssh: 'root@198.51.100.20', release: release === 'debian-12' ? 'debian-13' : 'debian-12' },
          { name: 'mx3', role: 'backup-mx', hostname: 'mx3.example.org', ipv4: '192.0.2.30', ssh: 'root@192.0.2.30', release },
        ],
        admin_email: 'admin@example.com',
        domains: {
          'example.com': {
            mailboxes: { alice: { password_hash: TEST_HASH, aliases: ['a.smith'] }, noreply: { password_hash: TEST_HASH, send_only: true } },
            aliases: { postmaster: 'alice', abuse: 'alice' },
          },
          'example.org': { mailboxes: { bob: { password_hash: TEST_HASH } }, catch_all: 'bob' },
        },
        spam: { greylisting: true },
        tls: { acme: 'self-signed' },
      }),
  },
  {
    // The standby replica beside the primary, rendered for the standby (same release): Dovecot and
    // the primary's Postfix, ready to take over; the key that may run only the dsync wrapper.
    name: 'standby',
    releases: BOTH,
    host: 'standby',
    config: (release) => standbyConfig(release),
  },
  {
    // The primary of that pair: the replication key, the standby's pinned host key, the sync script
    // and its every-minute schedule.
    name: 'with-standby',
    releases: BOTH,
    config: (release) => standbyConfig(release),
  },
];

/** Every case × release, with its render context (fixture keys for exactly its domains). */
export function renderMatrix(): Array<{ id: string; ctx: RenderContext }> {
  return RENDER_CASES.flatMap((c) =>
    c.releases.map((release) => {
      const config = c.host === undefined ? c.config(release) : forHost(c.config(release), c.host);
      const keys = { ...fixtureKeys(config.domains.map((d) => d.name)), relayPasswords: c.relayPasswords ?? {} };
      if (c.host !== undefined) keys.hostCertPems = { [config.server.hostname]: readFileSync(join(FIXTURES, 'keystore/tls', `selfsigned-${c.host}.crt`), 'utf8') };
      if (standbyOf(config)) keys.replication = loadReplicationKeys(join(FIXTURES, 'keystore'), 'standby');
      return { id: `${c.name}-${release}`, ctx: { config, keys, release } };
    }),
  );
}

/** debian-12 → bookworm, debian-13 → trixie: the names chroot-check.sh and rootfs.sh take. */
export const CODENAMES: Record<Release, string> = { 'debian-12': 'bookworm', 'debian-13': 'trixie' };
