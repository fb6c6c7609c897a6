// One case per rule of mailrig.yaml, good and bad: each bad case names the path, the line and the
// words of the message the operator sees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { loadConfigCached } from '../../src/config/read.js';
import { ConfigError } from '../../src/errors.js';
import { TEST_HASH } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';

type Doc = Record<string, unknown>;

function base(): Doc {
  return {
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
    admin_email: 'admin@example.com',
    domains: {
      'example.com': {
        mailboxes: { alice: { password_hash: TEST_HASH, aliases: ['a.smith'] }, bob: { password_hash: TEST_HASH } },
        aliases: { postmaster: 'alice', team: ['alice', 'bob@example.com'] },
      },
    },
  };
}

function problemsOf(text: string): ConfigError['problems'] {
  try {
    parseConfig(text, 'mailrig.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

const edit = (f: (d: any) => void): string => {
  const d = base();
  f(d);
  return stringify(d);
};

describe('mailrig.yaml rules', () => {
  it('accepts the base config and fills defaults', () => {
    const { config } = parseConfig(stringify(base()), 'mailrig.yaml');
    assert.equal(config.mail.messageSizeLimit, 50 * 1024 * 1024);
    assert.equal(config.domains[0]?.dmarc.policy, 'quarantine');
    assert.equal(config.domains[0]?.dmarc.rua, 'admin@example.com');
    assert.deepEqual(
      config.domains[0]?.aliases.map((a) => [a.address, a.targets]),
      [
        ['a.smith@example.com', ['alice@example.com']],
        ['postmaster@example.com', ['alice@example.com']],
        ['team@example.com', ['alice@example.com', 'bob@example.com']],
      ],
    );
  });

  const bad: Array<{ rule: string; text: string; path: string; says: RegExp }> = [
    { rule: 'hostname must be an FQDN', text: edit((d) => (d.server.hostname = 'mail')), path: 'server.hostname', says: /fully qualified/ },
    { rule: 'hostname must not be an address', text: edit((d) => (d.server.hostname = '203.0.113.10')), path: 'server.hostname', says: /fully qualified/ },
    { rule: 'ipv4 must be IPv4', text: edit((d) => (d.server.ipv4 = '203.0.113')), path: 'server.ipv4', says: /IPv4/ },
    { rule: 'ipv6 must be IPv6', text: edit((d) => (d.server.ipv6 = '2001:db8::zz')), path: 'server.ipv6', says: /IPv6/ },
    { rule: 'webmail must be one mailrig serves', text: edit((d) => (d.webmail = 'something-else')), path: 'webmail', says: /must be one of "roundcube"/ },
    { rule: 'webmail is a name, not a switch', text: edit((d) => (d.webmail = true)), path: 'webmail', says: /must be one of "roundcube"/ },
    { rule: 'release must be known', text: edit((d) => (d.server.release = 'debian-11')), path: 'server.release', says: /debian-12/ },
    { rule: 'domain must be valid', text: edit((d) => (d.domains['exa mple.com'] = {})), path: 'domains.exa mple.com', says: /not a valid domain/ },
    {
      rule: 'mailbox local part must be valid',
      text: edit((d) => (d.domains['example.com'].mailboxes['bad..name'] = { password_hash: TEST_HASH })),
      path: 'domains.example.com.mailboxes.bad..name',
      says: /not a valid mailbox name/,
    },
    {
      rule: 'mailbox names cannot hold the plus delimiter',
      text: edit((d) => (d.domains['example.com'].mailboxes['carol+x'] = { password_hash: TEST_HASH })),
      path: 'domains.example.com.mailboxes.carol+x',
      says: /plus-addressing/,
    },
    {
      rule: 'an address is defined once (mailbox vs alias)',
      text: edit((d) => (d.domains['example.com'].aliases.bob = 'alice')),
      path: 'domains.example.com.aliases.bob',
      says: /bob@example\.com is defined twice/,
    },
    {
      rule: 'an address is defined once across domains (full-address alias)',
      text: edit((d) => {
        d.domains['example.net'] = { aliases: { info: 'alice@example.com' } };
        d.domains['example.com'].mailboxes.bob.aliases = ['info@example.net'];
      }),
      path: 'domains.example.net.aliases.info',
      says: /info@example\.net is defined twice/,
    },
    {
      rule: 'alias target must be a mailbox, an alias or external',
      text: edit((d) => (d.domains['example.com'].aliases.sales = 'nobody')),
      path: 'domains.example.com.aliases.sales',
      says: /neither a mailbox nor an alias/,
    },
    {
      rule: 'alias target typo gets a suggestion',
      text: edit((d) => (d.domains['example.com'].aliases.sales = 'alcie')),
      path: 'domains.example.com.aliases.sales',
      says: /did you mean alice@example\.com/,
    },
    {
      rule: 'alias target cannot be send-only',
      text: edit((d) => {
        d.domains['example.com'].mailboxes.noreply = { password_hash: TEST_HASH, send_only: true };
        d.domains['example.com'].aliases.sales = 'noreply';
      }),
      path: 'domains.example.com.aliases.sales',
      says: /send-only/,
    },
    {
      rule: 'catch-all target must exist',
      text: edit((d) => (d.domains['example.com'].catch_all = 'ghost')),
      path: 'domains.example.com.catch_all',
      says: /neither a mailbox/,
    },
    {
      rule: 'quota must be a size',
      text: edit((d) => (d.domains['example.com'].mailboxes.alice.quota = '10 gigs')),
      path: 'domains.example.com.mailboxes.alice.quota',
      says: /not a size \(try 10G/,
    },
    {
      rule: 'password hash must be in {SCHEME} form',
      text: edit((d) => (d.domains['example.com'].mailboxes.alice.password_hash = 'hunter2hunter2')),
      path: 'domains.example.com.mailboxes.alice.password_hash',
      says: /\{SCHEME\}/,
    },
    {
      rule: 'unknown keys are rejected with a suggestion',
      text: edit((d) => (d.domains['example.com'].mailboxes.alice.aliasses = ['x'])),
      path: 'domains.example.com.mailboxes.alice.aliasses',
      says: /unknown key "aliasses" \(did you mean "aliases"\?\)/,
    },
    { rule: 'unknown top-level key', text: edit((d) => (d.sever = {})), path: 'sever', says: /did you mean "server"/ },
    {
      rule: 'rfc2136 needs its server',
      text: edit((d) => (d.dns = { provider: 'rfc2136', key_name: 'k', key_file: 'f' })),
      path: 'dns.server',
      says: /required when dns.provider is rfc2136/,
    },
    {
      rule: 'spam thresholds must rise',
      text: edit((d) => (d.spam = { reject: 5, add_header: 6 })),
      path: 'spam',
      says: /must rise/,
    },
    {
      rule: 'a Spamhaus DQS key is 26 lower-case letters and digits',
      text: edit((d) => (d.spam = { spamhaus_dqs_key: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' })),
      path: 'spam.spamhaus_dqs_key',
      says: /is not a Spamhaus DQS key \(26 lower-case letters and digits/,
    },
    {
      rule: 'a Spamhaus DQS key of the wrong length',
      text: edit((d) => (d.spam = { spamhaus_dqs_key: 'abc123' })),
      path: 'spam.spamhaus_dqs_key',
      says: /is not a Spamhaus DQS key/,
    },
    {
      rule: 'a blocklist zone must be a DNS name',
      text: edit((d) => (d.spam = { blocklists: [{ zone: 'bl example net', score: 5 }] })),
      path: 'spam.blocklists.0.zone',
      says: /is not a DNS zone name/,
    },
    {
      rule: 'a blocklist score is above 0',
      text: edit((d) => (d.spam = { blocklists: [{ zone: 'bl.example.net', score: -2 }] })),
      path: 'spam.blocklists.0.score',
      says: /must be a number above 0/,
    },
    {
      rule: 'a blocklist needs its score',
      text: edit((d) => (d.spam = { blocklists: [{ zone: 'bl.example.net' }] })),
      path: 'spam.blocklists.0.score',
      says: /is required \(a number\)/,
    },
    {
      rule: 'a blocklist once (zones whose symbols would clash count as one)',
      text: edit((d) => (d.spam = { blocklists: [{ zone: 'bl-x.example.net', score: 5 }, { zone: 'BL.x.example.net', score: 3 }] })),
      path: 'spam.blocklists.1.zone',
      says: /already listed at spam\.blocklists\.0 \(both would be rspamd symbol MAILRIG_RBL_BL_X_EXAMPLE_NET\)/,
    },
    {
      rule: "Spamhaus's zones are not extra blocklists",
      text: edit((d) => (d.spam = { blocklists: [{ zone: 'zen.spamhaus.org', score: 5 }] })),
      path: 'spam.blocklists.0.zone',
      says: /rspamd already asks ZEN and DBL \(set spam\.spamhaus_dqs_key/,
    },
    { rule: 'at least one domain', text: edit((d) => (d.domains = {})), path: 'domains', says: /at least one/ },
    { rule: 'admin_email must be an address', text: edit((d) => (d.admin_email = 'admin')), path: 'admin_email', says: /email address/ },
    {
      rule: 'the same domain twice (Unicode and punycode)',
      text: edit((d) => {
        d.domains['bücher.example'] = {};
        d.domains['xn--bcher-kva.example'] = {};
      }),
      path: 'domains.xn--bcher-kva.example',
      says: /same domain as "bücher.example"/,
    },
    { rule: 'a forwarder is an address', text: edit((d) => (d.resolver = { forwarders: ['dns.example.net'] })), path: 'resolver.forwarders.0', says: /not an IPv4 or IPv6 address/ },
    { rule: 'a forwarder port is a port', text: edit((d) => (d.resolver = { forwarders: ['192.0.2.53@70000'] })), path: 'resolver.forwarders.0', says: /@port/ },
    { rule: 'a forwarder is not unbound itself', text: edit((d) => (d.resolver = { forwarders: ['192.0.2.53', '127.0.0.1'] })), path: 'resolver.forwarders.1', says: /forward to itself/ },
    { rule: 'a forwarder is not host:port', text: edit((d) => (d.resolver = { forwarders: ['192.0.2.53:53'] })), path: 'resolver.forwarders.0', says: /192.0.2.53/ },
    {
      rule: 'a trust anchor names its owner',
      text: edit((d) => (d.resolver = { forwarders: ['192.0.2.53'], trust_anchors: ['remote..test. IN DS 12345 13 2 ABCDEF'] })),
      path: 'resolver.trust_anchors.0',
      says: /not a domain name/,
    },
    {
      rule: 'a trust anchor is DS or DNSKEY',
      text: edit((d) => (d.resolver = { trust_anchors: ['remote.test. IN A 192.0.2.1'] })),
      path: 'resolver.trust_anchors.0',
      says: /type A; a trust anchor is a DS or DNSKEY record/,
    },
    {
      rule: 'a trust anchor is of class IN',
      text: edit((d) => (d.resolver = { trust_anchors: ['remote.test. CH DS 12345 13 2 ABCDEF'] })),
      path: 'resolver.trust_anchors.0',
      says: /class CH/,
    },
    {
      rule: "a DS anchor's digest is hexadecimal",
      text: edit((d) => (d.resolver = { trust_anchors: ['remote.test. DS 12345 13 2 XYZ'] })),
      path: 'resolver.trust_anchors.0',
      says: /not hexadecimal/,
    },
    {
      rule: 'a DNSKEY anchor has protocol 3',
      text: edit((d) => (d.resolver = { trust_anchors: ['remote.test. 3600 IN DNSKEY 257 4 13 AbCd=='] })),
      path: 'resolver.trust_anchors.0',
      says: /protocol 3/,
    },
    {
      rule: 'no root trust anchor needs forwarders',
      text: edit((d) => (d.resolver = { root_trust_anchor: false })),
      path: 'resolver.root_trust_anchor',
      says: /only with resolver.forwarders/,
    },
    { rule: 'unknown resolver key', text: edit((d) => (d.resolver = { forwarder: ['192.0.2.53'] })), path: 'resolver.forwarder', says: /forwarders/ },
    { rule: 'tls_policy refuses none', text: edit((d) => (d.tls_policy = { 'partner.example': 'none' })), path: 'tls_policy.partner.example', says: /none is not offered: mail there would go out in plaintext/ },
    { rule: 'tls_policy levels are known', text: edit((d) => (d.tls_policy = { 'partner.example': 'strict' })), path: 'tls_policy.partner.example', says: /must be one of "may", "encrypt", "dane", "dane-only", "verify", "secure"/ },
    { rule: 'tls_policy keys are domains', text: edit((d) => (d.tls_policy = { 'not a domain': 'encrypt' })), path: 'tls_policy.not a domain', says: /not a domain name/ },
    {
      rule: 'tls_policy names a destination once',
      text: edit((d) => (d.tls_policy = { 'bücher.test': 'encrypt', 'XN--BCHER-KVA.test': 'secure' })),
      path: 'tls_policy.XN--BCHER-KVA.test',
      says: /same destination as "bücher.test"/,
    },
    { rule: 'dav names a known server', text: edit((d) => (d.dav = 'nextcloud')), path: 'dav', says: /radicale/ },
    { rule: 'dav is a server name, not a switch', text: edit((d) => (d.dav = true)), path: 'dav', says: /radicale/ },
    {
      rule: 'app passwords name known services',
      text: edit((d) => (d.domains['example.com'].mailboxes.alice.app_passwords = { phone: { hash: TEST_HASH, created: '2026-07-01', only: ['caldav'] } })),
      path: 'domains.example.com.mailboxes.alice.app_passwords.phone.only.0',
      says: /dav/,
    },
    { rule: 'tls_policy is not for own domains', text: edit((d) => (d.tls_policy = { 'example.com': 'encrypt' })), path: 'tls_policy.example.com', says: /mail domain of this server/ },
  ];

  for (const c of bad) {
    it(`rejects: ${c.rule}`, () => {
      const problems = problemsOf(c.text);
      const hit = problems.find((p) => p.path === c.path && c.says.test(p.message)) ?? problems.find((p) => p.path === c.path);
      assert.ok(hit, `expected a problem at ${c.path}, got ${JSON.stringify(problems)}`);
      assert.match(hit.message, c.says);
      assert.ok(hit.line !== undefined && hit.line > 0, 'the problem carries a line number');
    });
  }

  it('reports every problem at once, type errors and cross-field rules together', () => {
    const problems = problemsOf(
      edit((d) => {
        d.server.hostname = 'mail';
        d.domains['example.com'].mailboxes.alice.quota = 'lots';
        d.domains['example.com'].aliases.sales = 'nobody';
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.path).sort(),
      ['domains.example.com.aliases.sales', 'domains.example.com.mailboxes.alice.quota', 'server.hostname'],
    );
  });

  it('points at the line of the offending key', () => {
    const text = stringify(base()).replace('ipv4: 203.0.113.10', 'ipv4: nope');
    const line = text.split('\n').findIndex((l) => l.includes('ipv4: nope')) + 1;
    const [p] = problemsOf(text);
    assert.equal(p?.line, line);
  });

  it('reports a repeated key at its line, in maps of any size', () => {
    const domains = Array.from({ length: 3000 }, (_, i) => `  d${i}.example:\n    mailboxes: {}\n`).join('');
    const text = `${stringify(base())}extra:\n${domains}  d7.example:\n    mailboxes: {}\n`;
    const line = text.split('\n').length - 2;
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /YAML syntax: Map keys must be unique/);
    assert.equal(problems[0]?.line, line);
    assert.equal(problems[0]?.column, 3);
    const flow = problemsOf(`${stringify(base())}extra: { a: 1, b: 2, a: 3 }\n`);
    assert.match(flow[0]?.message ?? '', /Map keys must be unique/);
  });

  it('shows YAML syntax errors with line and column', () => {
    const problems = problemsOf('server:\n  hostname: [unclosed\nadmin_email: x\n');
    assert.ok(problems.length > 0);
    assert.match(problems[0]?.message ?? '', /YAML syntax/);
    assert.ok((problems[0]?.line ?? 0) > 0 && (problems[0]?.column ?? 0) > 0);
  });

  it('accepts IDN domains in Unicode, keeps them as punycode, shows them in Unicode', () => {
    const { config } = parseConfig(
      edit((d) => (d.domains['bücher.example'] = { mailboxes: { info: { password_hash: TEST_HASH } } })),
      'mailrig.yaml',
    );
    const idn = config.domains.find((d) => d.unicode === 'bücher.example');
    assert.equal(idn?.name, 'xn--bcher-kva.example');
    assert.equal(idn?.mailboxes[0]?.address, 'info@xn--bcher-kva.example');
    const [p] = problemsOf(edit((d) => (d.domains['bücher.example'] = { aliases: { x: 'ghost' } })));
    assert.match(p?.message ?? '', /ghost@bücher\.example/);
  });

  it('reads the resolver and the TLS policy, with defaults when absent', () => {
    const plain = parseConfig(stringify(base()), 'mailrig.yaml').config;
    assert.deepEqual(plain.resolver, { forwarders: [], trustAnchors: [], rootTrustAnchor: true });
    assert.deepEqual(plain.tlsPolicy, []);
    const { config } = parseConfig(
      edit((d) => {
        d.resolver = {
          forwarders: ['192.0.2.53', '2001:DB8::53', '192.0.2.54@5353'],
          trust_anchors: ['remote.test. IN DS 12345 13 2 ABCDEF0123', '. 172800 IN DNSKEY 257 3 8 AwEAAa+/ Bc== '],
          root_trust_anchor: false,
        };
        d.tls_policy = { 'partner.example': 'encrypt', '.bücher.example': 'dane-only', 'bank.example': 'secure' };
      }),
      'mailrig.yaml',
    );
    assert.deepEqual(config.resolver, {
      forwarders: ['192.0.2.53', '2001:db8::53', '192.0.2.54@5353'],
      trustAnchors: ['remote.test. IN DS 12345 13 2 ABCDEF0123', '. 172800 IN DNSKEY 257 3 8 AwEAAa+/ Bc=='],
      rootTrustAnchor: false,
    });
    assert.deepEqual(config.tlsPolicy, [
      { destination: '.xn--bcher-kva.example', level: 'dane-only' },
      { destination: 'bank.example', level: 'secure' },
      { destination: 'partner.example', level: 'encrypt' },
    ]);
  });

  it('accepts external alias targets and sizes in several spellings', () => {
    const { config } = parseConfig(
      edit((d) => {
        d.domains['example.com'].aliases.fwd = 'someone@elsewhere.example';
        d.domains['example.com'].mailboxes.alice.quota = '1.5G';
        d.domains['example.com'].mailboxes.bob.quota = 1048576;
      }),
      'mailrig.yaml',
    );
    const mb = config.domains[0]?.mailboxes;
    assert.equal(mb?.[0]?.quota, Math.round(1.5 * 1024 ** 3));
    assert.equal(mb?.[1]?.quota, 1048576);
  });
});

describe('the validated config kept for read-only commands', () => {
  const project = (text: string) => {
    const dir = scratchDir('mailrig-config-cache-');
    mkdirSync(join(dir, '.mailrig'), { mode: 0o700 });
    writeFileSync(join(dir, 'mailrig.yaml'), text);
    return { path: join(dir, 'mailrig.yaml'), cache: join(dir, '.mailrig/config-cache.json') };
  };
  const full = edit((d) => {
    d.server.ipv6 = '2001:db8::10';
    d.mail = { pop3: true, default_quota: '2G' };
    d.domains['bücher.example'] = { mailboxes: { info: { password_hash: TEST_HASH }, news: { password_hash: TEST_HASH, send_only: true } }, catch_all: 'info' };
  });

  it('gives the config loadConfig gives, whether validated now or read back', async () => {
    const { path, cache } = project(full);
    const expected = loadConfig(path).config;
    assert.deepStrictEqual(await loadConfigCached(path, cache), expected);
    assert.ok(readFileSync(cache, 'utf8').length > 0);
    assert.deepStrictEqual(await loadConfigCached(path, cache), expected);
  });

  it('validates a changed file again, reporting its problems as loading does', async () => {
    const { path, cache } = project(full);
    await loadConfigCached(path, cache);
    writeFileSync(path, full.replace('ipv4: 203.0.113.10', 'ipv4: nope'));
    await assert.rejects(loadConfigCached(path, cache), (e) => e instanceof ConfigError && /server\.ipv4/.test(e.format()));
  });

  it('uses only what was kept for this exact text, and ignores a damaged cache', async () => {
    const { path, cache } = project(full);
    await loadConfigCached(path, cache);
    const kept = JSON.parse(readFileSync(cache, 'utf8')) as { key: string; raw: { admin_email: string } };
    writeFileSync(cache, JSON.stringify({ ...kept, key: 'another text' , raw: { ...kept.raw, admin_email: 'wrong@example.com' } }));
    assert.equal((await loadConfigCached(path, cache)).adminEmail, 'admin@example.com');
    writeFileSync(cache, '{ not json');
    assert.equal((await loadConfigCached(path, cache)).adminEmail, 'admin@example.com');
  });
});
