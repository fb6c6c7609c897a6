// Dovecot's rendered files: the passwd-file lines (quota, send-only, home), the per-release dialect,
// and the sieve script that files spam by the header rspamd adds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { renderDovecot } from '../../src/render/dovecot.js';
import { appPasswordFiles, dovecotSize, mainPasswordDeniedFiles, passwdFileLine } from '../../src/render/dovecot-users.js';
import { SPAM_HEADER, renderRspamd } from '../../src/render/rspamd.js';
import type { FileSpec } from '../../src/render/types.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

function render(release: Release, pop3 = false): FileSpec[] {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    mail: { pop3, default_quota: '1G' },
    domains: {
      'example.com': {
        mailboxes: {
          alice: { password_hash: TEST_HASH, quota: '2G' },
          bob: { password_hash: '{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBZ.', quota: 0 },
        },
      },
      'bücher.example': { mailboxes: { noreply: { password_hash: TEST_HASH, send_only: true, quota: '300M' } } },
    },
  });
  return renderDovecot({ config, keys: fixtureKeys(['example.com', 'xn--bcher-kva.example']), release });
}

function content(files: FileSpec[], path: string): string {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `${path} is rendered`);
  return f.content;
}

describe('dovecot passwd-file', () => {
  it('has one line per mailbox with uid/gid 5000, the home under /var/vmail and the quota', () => {
    const lines = content(render('debian-12'), '/etc/dovecot/users').split('\n');
    assert.deepEqual(lines.slice(1), [
      `alice@example.com:${TEST_HASH}:5000:5000::/var/vmail/example.com/alice::userdb_quota_rule=*:storage=2G`,
      'bob@example.com:{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBZ.:5000:5000::/var/vmail/example.com/bob::',
      `noreply@xn--bcher-kva.example:${TEST_HASH}:5000:5000::/var/vmail/xn--bcher-kva.example/noreply::userdb_quota_rule=*:storage=300M`,
      '',
    ]);
    assert.match(lines[0] ?? '', /^# /, 'starts with a comment line');
  });

  it('spells the quota the 2.4 way on Debian 13', () => {
    const users = content(render('debian-13'), '/etc/dovecot/users');
    assert.match(users, /^alice@example\.com:.*:userdb_quota_storage_size=2G$/m);
    assert.doesNotMatch(users, /quota_rule/);
  });

  it('lists send-only mailboxes (they log in and submit; Postfix refuses mail to them)', () => {
    assert.match(content(render('debian-12'), '/etc/dovecot/users'), /^noreply@xn--bcher-kva\.example:/m);
  });

  it('is readable by root and dovecot only, and marked secret', () => {
    const f = render('debian-13').find((x) => x.path === '/etc/dovecot/users');
    assert.deepEqual([f?.mode, f?.owner, f?.group, f?.secret], ['0640', 'root', 'dovecot', true]);
  });

  it('states sizes in the largest exact unit', () => {
    assert.deepEqual(
      [1024 ** 3 * 10, 1024 ** 2 * 1536, 1024 * 3, 1000].map(dovecotSize),
      ['10G', '1536M', '3k', '1000B'],
    );
  });

  it('refuses a field that would shift the columns', () => {
    const m = { address: 'a@example.com', local: 'a', domain: 'example.com', passwordHash: '{X}a:b', quota: 0, aliases: [], sendOnly: false, mainPasswordServices: [], appPasswords: [], limits: { perMinute: 30, perDay: 1000, recipients: 100 } };
    assert.throws(() => passwdFileLine(m, () => ''), /cannot contain ':'/);
  });
});

describe('dovecot.conf per release', () => {
  it('uses the 2.3 syntax on Debian 12 and the 2.4 syntax on Debian 13', () => {
    const v23 = content(render('debian-12'), '/etc/dovecot/dovecot.conf');
    const v24 = content(render('debian-13'), '/etc/dovecot/dovecot.conf');
    assert.match(v23, /^disable_plaintext_auth = yes$/m);
    assert.match(v23, /^ssl_cert = <\/etc\/mailrig\/tls\/fullchain\.pem$/m);
    assert.match(v24, /^dovecot_config_version = 2\.4\.1$/m);
    assert.match(v24, /^auth_allow_cleartext = no$/m);
    assert.match(v24, /^ssl_server_cert_file = \/etc\/mailrig\/tls\/fullchain\.pem$/m);
    assert.doesNotMatch(v24, /disable_plaintext_auth|ssl_cert =|mail_location/);
  });

  for (const release of ['debian-12', 'debian-13'] as const) {
    it(`${release}: Postfix's sockets, TLS 1.2+, and POP3 only when enabled`, () => {
      const off = content(render(release), '/etc/dovecot/dovecot.conf');
      const on = content(render(release, true), '/etc/dovecot/dovecot.conf');
      assert.match(off, /unix_listener \/var\/spool\/postfix\/private\/auth \{\n\s+mode = 0660\n\s+user = postfix\n\s+group = postfix/);
      assert.match(off, /unix_listener \/var\/spool\/postfix\/private\/dovecot-lmtp \{\n\s+mode = 0600/);
      assert.match(off, /^ssl = required$/m);
      assert.match(off, /^ssl_min_protocol = TLSv1\.2$/m);
      assert.match(off, /^recipient_delimiter = \+$/m);
      assert.match(off, /^protocols = imap lmtp sieve$/m);
      assert.doesNotMatch(off, /pop3/);
      assert.match(on, /^protocols = imap lmtp sieve pop3$/m);
      assert.match(on, /port = 995/);
    });
  }
});

describe('sieve and spam learning', () => {
  it('files mail into Junk by exactly the header the rspamd milter adds', () => {
    const sieve = content(render('debian-12'), '/etc/dovecot/sieve/spam-to-junk.sieve');
    assert.match(sieve, new RegExp(`if header :is "${SPAM_HEADER.name}" "${SPAM_HEADER.value}" \\{\\n\\s+fileinto :create "Junk";`));
    const config = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
      admin_email: 'admin@example.com',
      domains: { 'example.com': {} },
    });
    const rspamd = renderRspamd({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    assert.match(content(rspamd, '/etc/rspamd/override.d/worker-proxy.inc'), new RegExp(`^spam_header = "${SPAM_HEADER.name}";$`, 'm'));
    assert.match(content(rspamd, '/etc/rspamd/local.d/actions.conf'), /^add_header = 6;$/m);
  });

  it('pipes to executable scripts that call rspamc learn_spam / learn_ham', () => {
    const files = render('debian-13');
    for (const kind of ['spam', 'ham']) {
      const f = files.find((x) => x.path === `/etc/dovecot/sieve-pipe/rspamd-learn-${kind}.sh`);
      assert.equal(f?.mode, '0755');
      assert.match(f?.content ?? '', new RegExp(`rspamc --connect 127\\.0\\.0\\.1:11334 learn_${kind}$`, 'm'));
      assert.match(content(files, `/etc/dovecot/sieve/learn-${kind}.sieve`), new RegExp(`pipe :copy "rspamd-learn-${kind}\\.sh";`));
    }
    assert.match(content(files, '/etc/dovecot/sieve/learn-ham.sieve'), /if string "\$\{mailbox\}" \["Trash", "Junk"\]/);
  });
});

describe('dovecot passdb files for dav (Radicale asks as the service "radicale")', () => {
  const config = (dav: boolean) =>
    configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
      admin_email: 'admin@example.com',
      domains: {
        'example.com': {
          mailboxes: {
            alice: { password_hash: TEST_HASH, main_password_only: ['imap'], app_passwords: { phone: { hash: TEST_HASH, created: '2026-07-01' } } },
          },
        },
      },
      ...(dav ? { dav: 'radicale' as const } : {}),
    });
  const paths = (dav: boolean) => appPasswordFiles(config(dav), '/a').map((f) => f.path).concat(mainPasswordDeniedFiles(config(dav), '/m').map((f) => f.path));

  it('with dav on: an app password for all services covers radicale, a main password without dav is denied there', () => {
    assert.deepEqual(paths(true), ['/a/1/imap', '/a/1/pop3', '/a/1/smtp', '/a/1/sieve', '/a/1/radicale', '/m/pop3', '/m/smtp', '/m/sieve', '/m/radicale']);
  });

  it('with dav off: no file for radicale at all', () => {
    assert.deepEqual(paths(false), ['/a/1/imap', '/a/1/pop3', '/a/1/smtp', '/a/1/sieve', '/m/pop3', '/m/smtp', '/m/sieve']);
  });
});
