// main.cf and master.cf as Postfix reads them: settings by name, per release and per config.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { renderPostfix } from '../../src/render/postfix.js';
import type { FileSpec } from '../../src/render/types.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';
import { RENDER_CASES } from '../support/render-cases.js';

function files(release: Release, caseName = 'one-domain'): FileSpec[] {
  const c = RENDER_CASES.find((x) => x.name === caseName);
  const config = c?.config(release);
  if (!c || !config) throw new Error(caseName);
  return renderPostfix({ config, keys: { ...fixtureKeys(config.domains.map((d) => d.name)), relayPasswords: c.relayPasswords ?? {} }, release });
}

function content(list: FileSpec[], path: string): string {
  const f = list.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f.content;
}

/** main.cf as name → value (later lines win, as in Postfix). */
function mainCf(list: FileSpec[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of content(list, '/etc/postfix/main.cf').split('\n')) {
    const m = /^([a-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (m?.[1] !== undefined) out.set(m[1], m[2] ?? '');
  }
  return out;
}

describe('main.cf', () => {
  const common: Array<[string, string]> = [
    ['myhostname', 'mail.example.com'],
    ['mydestination', '$myhostname, localhost'],
    ['smtpd_relay_restrictions', 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination'],
    ['smtpd_sasl_type', 'dovecot'],
    ['smtpd_sasl_path', 'private/auth'],
    ['virtual_transport', 'lmtp:unix:private/dovecot-lmtp'],
    ['virtual_mailbox_domains', 'lmdb:/etc/postfix/virtual_domains'],
    ['virtual_mailbox_maps', 'lmdb:/etc/postfix/virtual_mailboxes'],
    ['virtual_alias_maps', 'lmdb:/etc/postfix/virtual_aliases'],
    ['smtpd_sender_login_maps', 'lmdb:/etc/postfix/sender_logins'],
    ['recipient_delimiter', '+'],
    ['smtpd_milters', 'inet:127.0.0.1:11332'],
    ['non_smtpd_milters', '$smtpd_milters'],
    ['milter_default_action', 'accept'],
    ['milter_protocol', '6'],
    ['smtpd_tls_protocols', '>=TLSv1.2'],
    ['smtpd_tls_mandatory_protocols', '>=TLSv1.2'],
    ['smtp_tls_protocols', '>=TLSv1.2'],
    ['smtpd_tls_auth_only', 'yes'],
    ['smtpd_tls_chain_files', '/etc/mailrig/tls/privkey.pem, /etc/mailrig/tls/fullchain.pem'],
    ['tls_eecdh_auto_curves', 'X25519 prime256v1 secp384r1'],
    ['tls_ssl_options', 'NO_COMPRESSION, NO_RENEGOTIATION'],
    ['smtpd_forbid_bare_newline', 'normalize'],
    ['smtpd_forbid_unauth_pipelining', 'yes'],
    ['disable_vrfy_command', 'yes'],
    ['smtpd_helo_required', 'yes'],
    ['message_size_limit', '52428800'],
    ['inet_protocols', 'ipv4'],
    ['mynetworks', '127.0.0.0/8'],
  ];
  for (const release of ['debian-12', 'debian-13'] as const) {
    for (const [name, value] of common) {
      it(`${release}: ${name} = ${value}`, () => assert.equal(mainCf(files(release)).get(name), value));
    }
  }

  it('uses no CBC or non-forward-secret cipher', () => {
    const ciphers = mainCf(files('debian-12')).get('tls_high_cipherlist') ?? '';
    for (const c of ciphers.split(':')) assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    assert.equal(mainCf(files('debian-12')).get('smtpd_tls_ciphers'), 'high');
  });

  it('keeps the release differences: no tls_ffdhe_auto_groups on 3.7, empty on 3.10', () => {
    assert.equal(mainCf(files('debian-12')).has('tls_ffdhe_auto_groups'), false);
    assert.equal(mainCf(files('debian-13')).get('tls_ffdhe_auto_groups'), '');
    assert.equal(mainCf(files('debian-12')).get('compatibility_level'), '3.7');
    assert.equal(mainCf(files('debian-13')).get('compatibility_level'), '3.10');
  });

  it('listens on IPv6 and trusts ::1 only when server.ipv6 is set', () => {
    const cf = mainCf(files('debian-13', 'three-domains'));
    assert.equal(cf.get('inet_protocols'), 'all');
    assert.equal(cf.get('mynetworks'), '127.0.0.0/8 [::1]/128');
  });

  it('takes message_size_limit from the config', () => {
    assert.equal(mainCf(files('debian-12', 'ipv4-only-pop3-off')).get('message_size_limit'), String(25 * 1024 * 1024));
  });

  it('keeps a host name that is also a mail domain out of mydestination', () => {
    const config = oneDomainConfig({
      server: { hostname: 'example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
    });
    const list = renderPostfix({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    assert.equal(mainCf(list).get('mydestination'), 'localhost');
  });

  it('comments every setting', () => {
    const lines = content(files('debian-13'), '/etc/postfix/main.cf').split('\n');
    lines.forEach((line, i) => {
      if (!/^[a-z]/.test(line)) return;
      // A setting follows its comment, or another setting of the same commented group.
      let j = i - 1;
      while (j >= 0 && /^[a-z]/.test(lines[j] ?? '')) j--;
      assert.match(lines[j] ?? '', /^#/, `no comment above: ${line}`);
    });
  });
});

describe('master.cf', () => {
  const master = content(files('debian-12'), '/etc/postfix/master.cf');

  it('puts postscreen in front of smtpd on port 25', () => {
    assert.match(master, /^smtp\s+inet\s+n\s+-\s+y\s+-\s+1\s+postscreen$/m);
    assert.match(master, /^smtpd\s+pass\s+.*\bsmtpd$/m);
    assert.match(master, /^tlsproxy\s+unix\b/m);
  });

  for (const [service, tls] of [
    ['submission', 'smtpd_tls_security_level=encrypt'],
    ['submissions', 'smtpd_tls_wrappermode=yes'],
  ] as const) {
    it(`${service}: TLS, SASL, logged-in clients only, own addresses only`, () => {
      const block = new RegExp(`^${service} +inet[^\\n]*\\n((?:  -o [^\\n]*\\n)+)`, 'm').exec(master)?.[1] ?? '';
      for (const opt of [
        tls,
        'smtpd_sasl_auth_enable=yes',
        'smtpd_client_restrictions=permit_sasl_authenticated,reject',
        'smtpd_sender_restrictions=reject_sender_login_mismatch',
      ]) {
        assert.ok(block.includes(`-o ${opt}\n`), `${service} lacks ${opt}`);
      }
    });
  }

  it('never enables AUTH on port 25', () => {
    assert.doesNotMatch(content(files('debian-12'), '/etc/postfix/main.cf'), /^smtpd_sasl_auth_enable/m);
  });
});

describe('postfix files', () => {
  it('rebuilds maps with postmap and /etc/aliases with postalias', () => {
    const byPath = new Map(files('debian-13').map((f) => [f.path, f.onChange]));
    for (const map of ['virtual_domains', 'virtual_mailboxes', 'virtual_aliases', 'sender_logins', 'send_only_recipients']) {
      assert.equal(byPath.get(`/etc/postfix/${map}`), 'postmap');
    }
    assert.equal(byPath.get('/etc/aliases'), 'postalias');
    assert.equal(byPath.get('/etc/mailname'), 'none');
    assert.equal(content(files('debian-13'), '/etc/mailname'), 'mail.example.com\n');
  });
});

describe('relays', () => {
  const relayed = files('debian-12', 'ipv4-only-pop3-off');
  const masterCf = (list: FileSpec[]) => content(list, '/etc/postfix/master.cf');

  it('routes by recipient domain, then sender domain, then the default relay', () => {
    const cf = mainCf(relayed);
    assert.equal(cf.get('transport_maps'), 'lmdb:/etc/postfix/relay_recipients');
    assert.equal(cf.get('sender_dependent_default_transport_maps'), 'lmdb:/etc/postfix/relay_senders');
    assert.equal(cf.get('default_transport'), 'smarthost:[smtp.relay.example.net]:587');
    assert.equal(content(relayed, '/etc/postfix/relay_recipients').split('\n').filter((l) => !l.startsWith('#') && l).join('\n'), 'outlook.com smarthost:[mx.smarthost.example.net]:25');
    assert.match(content(relayed, '/etc/postfix/relay_senders'), /^@example\.org smarthost-tls:\[smtps\.relay\.example\.net\]:465$/m);
  });

  it('requires verified TLS to every relay; 465 is implicit TLS', () => {
    const m = masterCf(relayed);
    const block = (name: string) => m.slice(m.indexOf(`\n${name} `) + 1).split(/\n(?=\S)/)[0] ?? '';
    for (const name of ['smarthost', 'smarthost-tls']) {
      assert.match(block(name), /-o smtp_tls_security_level=secure/);
      assert.match(block(name), /-o smtp_tls_CAfile=\/etc\/ssl\/certs\/ca-certificates\.crt/);
      assert.match(block(name), /-o smtp_sasl_password_maps=lmdb:\/etc\/postfix\/relay_passwords/);
    }
    assert.match(block('smarthost-tls'), /smtp_tls_wrappermode=yes/);
    assert.doesNotMatch(block('smarthost'), /wrappermode/);
  });

  it('keeps the passwords root-only, one login per relay host and port', () => {
    const f = relayed.find((x) => x.path === '/etc/postfix/relay_passwords');
    assert.ok(f);
    assert.deepEqual([f.mode, f.owner, f.group, f.secret, f.onChange], ['0600', 'root', 'root', true, 'postmap']);
    assert.match(f.content, /^\[smtp\.relay\.example\.net\]:587 mailrig@example\.com:relay-password-1$/m);
    assert.match(f.content, /^\[smtps\.relay\.example\.net\]:465 org:relay-password-2$/m);
    assert.doesNotMatch(f.content, /mx\.smarthost/);
  });

  it('refuses to render a relay login whose password was never set', () => {
    const c = RENDER_CASES.find((x) => x.name === 'ipv4-only-pop3-off');
    const config = c?.config('debian-12');
    assert.ok(config);
    assert.throws(
      () => renderPostfix({ config, keys: { ...fixtureKeys(config.domains.map((d) => d.name)), relayPasswords: {} }, release: 'debian-12' }),
      /no password for relay smtp\.relay\.example\.net yet; run mailrig relay password smtp\.relay\.example\.net/,
    );
  });

  it('trusts relay.ca_file instead of the system bundle when set', () => {
    const c = RENDER_CASES.find((x) => x.name === 'ipv4-only-pop3-off');
    const config = c?.config('debian-13');
    assert.ok(config && c);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const list = renderPostfix({ config, keys: { ...fixtureKeys(config.domains.map((d) => d.name)), relayPasswords: c.relayPasswords ?? {}, relayCaPem: pem }, release: 'debian-13' });
    assert.equal(content(list, '/etc/postfix/relay_ca.pem'), pem);
    assert.match(masterCf(list), /smtp_tls_CAfile=\/etc\/postfix\/relay_ca\.pem/);
  });

  it('leaves main.cf and master.cf alone without relays', () => {
    const plain = files('debian-12');
    assert.equal(mainCf(plain).get('default_transport'), undefined);
    assert.doesNotMatch(masterCf(plain), /smarthost/);
    assert.equal(plain.some((f) => f.path.includes('relay_')), false);
  });
});
