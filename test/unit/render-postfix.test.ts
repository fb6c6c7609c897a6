// main.cf and master.cf as Postfix reads them: settings by name, per release and per config.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { renderPostfix } from '../../src/render/postfix.js';
import type { FileSpec } from '../../src/render/types.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';
import { RENDER_CASES } from '../support/render-cases.js';

function files(release: Release, caseName = 'one-domain'): FileSpec[] {
  const config = RENDER_CASES.find((c) => c.name === caseName)?.config(release);
  if (!config) throw new Error(caseName);
  return renderPostfix({ config, keys: fixtureKeys(config.domains.map((d) => d.name)), release });
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
