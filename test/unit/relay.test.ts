// Relays: which route a message takes, the key store's password files, and the config rules.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { relays } from '../../src/config/model.js';
import { checkRules } from '../../src/config/rules.js';
import { configSchema } from '../../src/config/schema.js';
import { loadRelayPasswords, relayPasswordPath, saveRelayPassword } from '../../src/keys/relay.js';
import { routeFor, routingLines } from '../../src/render/relay.js';
import { oneDomainConfig, TEST_HASH } from '../support/fixtures.js';

const relayed = oneDomainConfig({
  domains: {
    'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } },
    'example.org': { mailboxes: { erin: { password_hash: TEST_HASH } } },
  },
  relay: {
    default: { host: 'smtp.relay.example.net', port: 587, username: 'u' },
    sender_domains: { 'example.org': { host: 'smtps.relay.example.net', port: 465, username: 'o' } },
    recipient_domains: { 'outlook.com': { host: 'mx.smarthost.example.net', port: 25 } },
  },
});

describe('relay routes', () => {
  it('recipient domain wins over sender domain, which wins over the default', () => {
    assert.equal(routeFor(relayed, 'example.org', 'outlook.com').relay?.host, 'mx.smarthost.example.net');
    assert.equal(routeFor(relayed, 'example.org', 'gmail.com').relay?.host, 'smtps.relay.example.net');
    assert.equal(routeFor(relayed, 'example.com', 'gmail.com').relay?.host, 'smtp.relay.example.net');
    assert.equal(routeFor(oneDomainConfig(), 'example.com', 'gmail.com').reason, 'direct');
  });

  it('names each domain and each recipient-domain relay once', () => {
    assert.deepEqual(routingLines(relayed), [
      'mail from example.com: via smtp.relay.example.net:587 (login u) (default relay)',
      'mail from example.org: via smtps.relay.example.net:465 (login o) (sender domain)',
      'mail to outlook.com, from any domain: via mx.smarthost.example.net:25 (recipient domain)',
    ]);
    assert.deepEqual(routingLines(oneDomainConfig()), ["mail from example.com: directly to the recipients' MX hosts (port 25)"]);
    assert.equal(relays(relayed).length, 3);
  });
});

describe('relay passwords in the key store', () => {
  it('are written 0600 in a 0700 directory, one file per host, and read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrig-relay-'));
    try {
      assert.equal(saveRelayPassword(dir, 'SMTP.Relay.Example.net', 'pa ss:word'), true);
      assert.equal(saveRelayPassword(dir, 'smtp.relay.example.net', 'pa ss:word'), false);
      const path = relayPasswordPath(dir, 'smtp.relay.example.net');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'secrets/relay')).mode & 0o777, 0o700);
      assert.deepEqual(loadRelayPasswords(dir), { 'smtp.relay.example.net': 'pa ss:word' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('relay rules', () => {
  const base = (relay: unknown) =>
    checkRules(
      configSchema.parse({
        server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
        admin_email: 'admin@example.com',
        domains: { 'example.com': {} },
        relay,
      }),
    ).map((p) => `${p.path.join('.')}: ${p.message}`);

  it('a submission port needs a login; port 25 does not', () => {
    assert.match(base({ default: { host: 'smtp.relay.example.net' } })[0] ?? '', /^relay\.default\.username: is required for port 587/);
    assert.deepEqual(base({ default: { host: 'smtp.relay.example.net', port: 25 } }), []);
  });

  it('sender domains must be ours, recipient domains must not', () => {
    assert.match(base({ sender_domains: { 'example.net': { host: 'r.example.net', port: 25 } } })[0] ?? '', /not a mail domain of this server/);
    assert.match(base({ recipient_domains: { 'example.com': { host: 'r.example.net', port: 25 } } })[0] ?? '', /is a mail domain of this server/);
  });
});
