// The configurations the DNS tests run on: each with the key store it needs and the zones it makes.
import type { Config } from '../../src/config/model.js';
import { publicKeys, type KeyMaterial, type PublicKeys } from '../../src/keys/store.js';
import { configFrom, fixtureKeys, TEST_HASH } from './fixtures.js';

export interface DnsCase {
  name: string;
  config: Config;
  keys: KeyMaterial;
  pub: PublicKeys;
  /** The zones mailrig writes records for, in order. */
  zones: string[];
}

const mailbox = { alice: { password_hash: TEST_HASH } };

function make(name: string, input: Parameters<typeof configFrom>[0], zones: string[]): DnsCase {
  const config = configFrom(input);
  const keys = fixtureKeys(config.domains.map((d) => d.name));
  return { name, config, keys, pub: publicKeys(keys), zones };
}

const server = (hostname: string, ipv6?: string) => ({
  hostname,
  ipv4: '203.0.113.10',
  ...(ipv6 ? { ipv6 } : {}),
  ssh: 'root@203.0.113.10',
  release: 'debian-12' as const,
});

/** One domain, the host inside it, IPv4 only, Let's Encrypt. */
export function oneDomainCase(): DnsCase {
  return make(
    'one domain, IPv4 only',
    { server: server('mail.example.com'), admin_email: 'admin@example.com', domains: { 'example.com': { mailboxes: mailbox } } },
    ['example.com'],
  );
}

/** Three domains (one IDN), dual stack, POP3 on, per-domain DMARC settings. */
export function threeDomainCase(): DnsCase {
  return make(
    'three domains with an IDN one, dual stack',
    {
      server: server('mail.example.com', '2001:db8::10'),
      admin_email: 'admin@example.com',
      domains: {
        'example.com': { mailboxes: mailbox },
        'example.net': { mailboxes: mailbox, dmarc: { policy: 'reject' } },
        'bücher.example': { mailboxes: mailbox, dmarc: { policy: 'none', rua: 'dmarc@bücher.example' } },
      },
      mail: { pop3: true },
    },
    ['example.com', 'example.net', 'xn--bcher-kva.example'],
  );
}

/** The host outside every mail domain (its records go in its parent zone), dual stack, staging CA. */
export function hostOutsideCase(): DnsCase {
  return make(
    'host outside the mail domains',
    {
      server: server('mx1.hoster.example', '2001:db8:0:1::25'),
      admin_email: 'admin@example.org',
      domains: { 'example.org': { mailboxes: mailbox }, 'example.net': { mailboxes: mailbox } },
      tls: { acme: 'letsencrypt-staging' },
    },
    ['example.org', 'example.net', 'hoster.example'],
  );
}

/** The host name is the mail domain itself; self-signed certificates (so no CAA). */
export function hostIsDomainCase(): DnsCase {
  return make(
    'host is the mail domain, self-signed',
    {
      server: server('example.org'),
      admin_email: 'postmaster@example.org',
      domains: { 'example.org': { mailboxes: mailbox } },
      tls: { acme: 'self-signed' },
    },
    ['example.org'],
  );
}

export function allCases(): DnsCase[] {
  return [oneDomainCase(), threeDomainCase(), hostOutsideCase(), hostIsDomainCase()];
}
