// fail2ban's jails come from the config's security section, read the log files the daemons write
// themselves, and never block SSH.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderFail2ban } from '../../src/render/fail2ban.js';
import { packagesFor } from '../../src/services/index.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

function jails(security?: { max_auth_failures?: number; ban_minutes?: number }, pop3 = false): string {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    mail: { pop3 },
    ...(security ? { security } : {}),
  });
  const files = renderFail2ban({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
  assert.deepEqual(files.map((f) => f.path), ['/etc/fail2ban/jail.d/mailrig.conf', '/etc/fail2ban/filter.d/mailrig-dovecot.conf']);
  return files[0]?.content ?? '';
}

/** The settings of one [section]. */
function section(text: string, name: string): Record<string, string> {
  const body = text.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? '';
  return Object.fromEntries([...body.matchAll(/^(\w+) = (.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('fail2ban jails', () => {
  it('ban after security.max_auth_failures for security.ban_minutes (defaults 5 and 60)', () => {
    for (const name of ['postfix-sasl', 'dovecot']) {
      assert.deepEqual([section(jails(), name).maxretry, section(jails(), name).bantime], ['5', '60m']);
      const custom = section(jails({ max_auth_failures: 3, ban_minutes: 1 }), name);
      assert.deepEqual([custom.enabled, custom.maxretry, custom.bantime], ['true', '3', '1m']);
    }
  });

  it('read the files Postfix and Dovecot log to, without syslog or the journal', () => {
    assert.equal(section(jails(), 'postfix-sasl').logpath, '/var/log/postfix.log');
    assert.equal(section(jails(), 'dovecot').logpath, '/var/log/dovecot.log');
    assert.equal(section(jails(), 'dovecot').backend, 'polling');
    // Debian's filter extended for Dovecot 2.4 (Debian 13), whose failed-login line it misses.
    assert.equal(section(jails(), 'dovecot').filter, 'mailrig-dovecot');
  });

  it('block the mail ports only: never SSH, and Debian\'s sshd jail stays off', () => {
    const ports = section(jails({}, true), 'dovecot').port?.split(',') ?? [];
    assert.deepEqual(ports, ['25', '465', '587', '143', '993', '4190', '995']);
    assert.ok(!ports.includes('22'));
    assert.equal(section(jails(), 'sshd').enabled, 'false');
  });

  it('with dav: radicale, a jail reads Radicale in the journal and bans on 443 only, after the same number of failures', () => {
    const config = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
      admin_email: 'admin@example.com',
      domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
      security: { max_auth_failures: 3, ban_minutes: 30 },
      dav: 'radicale',
    });
    const files = renderFail2ban({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    assert.deepEqual(files.map((f) => f.path), ['/etc/fail2ban/jail.d/mailrig.conf', '/etc/fail2ban/filter.d/mailrig-dovecot.conf', '/etc/fail2ban/filter.d/mailrig-dav.conf']);
    const dav = section(files[0]?.content ?? '', 'mailrig-dav');
    assert.deepEqual(
      [dav.enabled, dav.filter, dav.backend, dav.journalmatch, dav.maxretry, dav.bantime, dav.port],
      ['true', 'mailrig-dav', 'systemd', '_SYSTEMD_UNIT=radicale.service', '3', '30m', '443'],
    );
    // The filter's one line matches what Radicale logs, and takes the forwarded address, not nginx's.
    const regex = /^failregex = (.*)$/m.exec(files[2]?.content ?? '')?.[1]?.trim() ?? '';
    const re = new RegExp(regex.replace('<HOST>', '(?<host>[0-9.]+)'));
    const line = "[140/Thread-3] [WARNING] Failed login attempt from 127.0.0.1 (forwarded for '203.0.113.7'): 'alice@example.com'";
    assert.equal(re.exec(line)?.groups?.host, '203.0.113.7');
    assert.equal(packagesFor(config, { release: 'debian-12', init: 'systemd' }).includes('python3-systemd'), true);
    assert.equal(packagesFor({ ...config, dav: undefined }, { release: 'debian-12', init: 'systemd' }).includes('python3-systemd'), false);
  });
});
