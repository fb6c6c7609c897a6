// App passwords: the edits of mailrig user app-password add|list|rm (one password shown once, its hash
// kept, comments kept), and what they render into: Dovecot's per-slot, per-service passdb files and
// the deny files of a restricted main password, in both dialects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateAppPassword, parseServices, runAppPasswordAdd, runAppPasswordList, runAppPasswordRm } from '../../src/cli/app-password.js';
import { loadConfig } from '../../src/config/load.js';
import type { Release } from '../../src/config/model.js';
import { UsageError } from '../../src/errors.js';
import { verifyPassword } from '../../src/keys/password.js';
import { renderDovecot } from '../../src/render/dovecot.js';
import type { FileSpec } from '../../src/render/types.js';
import { recordingIo, scratchProjects } from '../support/accounts.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

const project = scratchProjects('app-password');
const io = recordingIo;

describe('mailrig user app-password', () => {
  it('add: shows a strong password once and keeps only its hash, with the day and the services', async () => {
    const p = project();
    const out = io();
    assert.equal(await runAppPasswordAdd('alice@example.com', { config: p.path, name: 'phone', only: 'imap,smtp' }, out), 0);
    const password = /^ {4}(\S+)$/m.exec(out.text())?.[1];
    assert.ok(password && /^([a-z2-9]{5}-){4}[a-z2-9]{5}$/.test(password), out.text());
    assert.ok(!p.read().includes(password), 'the password itself is not stored');
    assert.ok(p.read().includes('# quota: 10G'), 'comments are kept');
    const alice = loadConfig(p.path).config.domains[0]?.mailboxes[0];
    assert.equal(alice?.appPasswords.length, 1);
    const app = alice?.appPasswords[0];
    assert.deepEqual({ name: app?.name, created: app?.created, services: app?.services }, { name: 'phone', created: '2026-07-01', services: ['imap', 'smtp'] });
    assert.ok(await verifyPassword(app?.hash ?? '', password));
  });

  it('list and rm: names, days and services; rm removes only the named one', async () => {
    const p = project();
    await runAppPasswordAdd('alice@example.com', { config: p.path, name: 'phone' }, io());
    await runAppPasswordAdd('alice@example.com', { config: p.path, name: 'laptop', only: 'sieve' }, io());
    const listed = io();
    assert.equal(await runAppPasswordList('alice@example.com', { config: p.path }, listed), 0);
    assert.match(listed.text(), /^Main password of alice@example\.com: all services$/m);
    assert.match(listed.text(), /^phone +2026-07-01 +imap, pop3, smtp, sieve, dav$/m);
    assert.match(listed.text(), /^laptop +2026-07-01 +sieve$/m);
    assert.equal(await runAppPasswordRm('alice@example.com', 'phone', { config: p.path }, io()), 0);
    assert.deepEqual(loadConfig(p.path).config.domains[0]?.mailboxes[0]?.appPasswords.map((a) => a.name), ['laptop']);
    await runAppPasswordRm('alice@example.com', 'laptop', { config: p.path }, io());
    assert.ok(!p.read().includes('app_passwords'), 'the last one takes the key with it');
  });

  it('refuses bad names, unknown services, duplicates and unknown mailboxes, changing nothing', async () => {
    const p = project();
    await runAppPasswordAdd('alice@example.com', { config: p.path, name: 'phone' }, io());
    const before = p.read();
    const cases: Array<[Promise<number>, RegExp]> = [
      [runAppPasswordAdd('alice@example.com', { config: p.path, name: 'My Phone' }, io()), /--name My Phone/],
      [runAppPasswordAdd('alice@example.com', { config: p.path }, io()), /--name/],
      [runAppPasswordAdd('alice@example.com', { config: p.path, name: 'tablet', only: 'imap,web' }, io()), /--only imap,web: "web" is not a service/],
      [runAppPasswordAdd('alice@example.com', { config: p.path, name: 'tablet', only: 'imap,imap' }, io()), /twice/],
      [runAppPasswordAdd('alice@example.com', { config: p.path, name: 'phone' }, io()), /already has an app password named phone/],
      [runAppPasswordAdd('nobody@example.com', { config: p.path, name: 'tablet' }, io()), /no such mailbox/],
      [runAppPasswordRm('alice@example.com', 'tablet', { config: p.path }, io()), /no app password named tablet \(phone\)/],
    ];
    for (const [run, message] of cases) await assert.rejects(run, (e: Error) => e instanceof UsageError && message.test(e.message));
    assert.equal(p.read(), before);
  });

  it('makes different passwords from a 31-character alphabet', () => {
    const seen = new Set(Array.from({ length: 50 }, generateAppPassword));
    assert.equal(seen.size, 50);
    assert.deepEqual(parseServices('IMAP, smtp', '--only'), ['imap', 'smtp']);
  });
});

function config(release: Release) {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    domains: {
      'example.com': {
        mailboxes: {
          alice: {
            password_hash: TEST_HASH,
            main_password_only: ['sieve'],
            app_passwords: {
              phone: { hash: '{ARGON2ID}phone-hash', created: '2026-07-01', only: ['imap', 'smtp'] },
              laptop: { hash: '{ARGON2ID}laptop-hash', created: '2026-07-02' },
            },
          },
          bob: { password_hash: TEST_HASH, app_passwords: { mail: { hash: '{ARGON2ID}bob-hash', created: '2026-07-03', only: ['imap'] } } },
          carol: { password_hash: TEST_HASH },
        },
      },
    },
  });
}

const byPath = (files: FileSpec[]) => new Map(files.map((f) => [f.path, f]));

describe('app passwords in Dovecot', () => {
  for (const release of ['debian-12', 'debian-13'] as const) {
    it(`${release}: one passwd-file per slot and service, deny files for the main password, hashes only`, () => {
      const files = byPath(renderDovecot({ config: config(release), keys: fixtureKeys(['example.com']), release }));
      const app = [...files.keys()].filter((p) => p.startsWith('/etc/dovecot/app-passwords/')).sort();
      assert.deepEqual(app, [
        '/etc/dovecot/app-passwords/1/imap',
        '/etc/dovecot/app-passwords/1/smtp',
        '/etc/dovecot/app-passwords/2/imap',
        '/etc/dovecot/app-passwords/2/pop3',
        '/etc/dovecot/app-passwords/2/sieve',
        '/etc/dovecot/app-passwords/2/smtp',
      ]);
      assert.equal(files.get('/etc/dovecot/app-passwords/1/imap')?.content, 'alice@example.com:{ARGON2ID}phone-hash\nbob@example.com:{ARGON2ID}bob-hash\n');
      assert.equal(files.get('/etc/dovecot/app-passwords/1/smtp')?.content, 'alice@example.com:{ARGON2ID}phone-hash\n');
      assert.equal(files.get('/etc/dovecot/app-passwords/2/sieve')?.content, 'alice@example.com:{ARGON2ID}laptop-hash\n');
      const f = files.get('/etc/dovecot/app-passwords/1/imap');
      assert.deepEqual([f?.mode, f?.group, f?.secret, f?.onChange], ['0640', 'dovecot', true, 'none']);
      const denied = [...files.keys()].filter((p) => p.startsWith('/etc/dovecot/main-password-denied/')).sort();
      assert.deepEqual(denied, ['imap', 'pop3', 'smtp'].map((s) => `/etc/dovecot/main-password-denied/${s}`));
      assert.equal(files.get('/etc/dovecot/main-password-denied/imap')?.content, 'alice@example.com\n');
      const conf = files.get('/etc/dovecot/dovecot.conf')?.content ?? '';
      const variable = release === 'debian-12' ? '%s' : '%{protocol}';
      // App passwords, then the deny passdb, then the main users file: in that order.
      const order = [`/etc/dovecot/app-passwords/1/${variable}`, `/etc/dovecot/app-passwords/8/${variable}`, `/etc/dovecot/main-password-denied/${variable}`, 'deny = yes'];
      const at = order.map((s) => conf.indexOf(s));
      assert.ok(at.every((i, n) => i > 0 && (n === 0 || i > (at[n - 1] ?? 0))), conf);
      assert.ok(conf.indexOf('deny = yes') < conf.lastIndexOf('/etc/dovecot/users'));
    });
  }

  it('renders no app-password or deny files when nobody has one', () => {
    const plain = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
      admin_email: 'admin@example.com',
      domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    });
    const files = renderDovecot({ config: plain, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    assert.deepEqual(files.filter((f) => /app-passwords|main-password-denied/.test(f.path)), []);
  });
});
