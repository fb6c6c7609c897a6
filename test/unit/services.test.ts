// The service registry and the tables derived from it: one descriptor per service, daemons in start
// order, and the packages plan, apply and check all ask for — the same whatever the command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { possiblePackages } from '../../src/plan/desired.js';
import { DAEMONS, MAIN_PROCESS, packagesFor, portsFor, render, SERVICES, TLS_CONSUMERS, TLS_PORTS, daemonSpec } from '../../src/services/index.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';

describe('service descriptors', () => {
  it('are named once each, and the daemons start in dependency order', () => {
    const names = SERVICES.map((s) => s.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(DAEMONS, ['unbound', 'redis', 'rspamd', 'postsrsd', 'mta-sts', 'sts-front', 'postfix', 'dovecot', 'radicale', 'roundcube', 'nginx', 'fail2ban']);
    assert.deepEqual(TLS_CONSUMERS, ['postfix', 'dovecot', 'nginx']);
    assert.deepEqual(MAIN_PROCESS, { unbound: 'unbound', redis: 'redis-server', rspamd: 'rspamd', postsrsd: 'postsrsd', 'mta-sts': 'mta-sts-daemon', 'sts-front': 'sts-front', postfix: 'master', dovecot: 'dovecot', radicale: 'radicale', roundcube: 'php-fpm[0-9.]+', nginx: 'nginx', fail2ban: 'fail2ban-server' });
    for (const d of DAEMONS) assert.ok(daemonSpec(d).unit && daemonSpec(d).validate, d);
    assert.throws(() => daemonSpec('backup'), /no daemon named backup/);
  });

  it('the ports serving the certificate, mail first, HTTPS last', () => {
    assert.deepEqual(TLS_PORTS.map((p) => `${p.port}/${p.mode}/${p.daemon}`), ['25/smtp/postfix', '465/implicit/postfix', '587/smtp/postfix', '993/implicit/dovecot', '443/implicit/nginx']);
    const config = oneDomainConfig();
    assert.deepEqual(portsFor(config).dovecot, [143, 993, 4190, ...(config.mail.pop3 ? [995] : [])]);
  });

  it('packages: cron only where systemd is not PID 1 (a schedule always needs it: the sending-limit notices); the facts ask for both', () => {
    const config = oneDomainConfig();
    assert.equal(config.tls.acme, 'letsencrypt');
    const sysv = packagesFor(config, { release: 'debian-12', init: 'sysv' });
    const systemd = packagesFor(config, { release: 'debian-12', init: 'systemd' });
    assert.ok(sysv.includes('nodejs') && sysv.includes('cron'));
    assert.ok(systemd.includes('nodejs') && !systemd.includes('cron'));
    assert.equal(new Set(sysv).size, sysv.length, 'each once');
    const ctx = { config, keys: fixtureKeys(['example.com']), release: 'debian-12' as const };
    assert.ok(possiblePackages(ctx).includes('cron'));
    const selfSigned = oneDomainConfig({ tls: { acme: 'self-signed' } } as never);
    assert.ok(!packagesFor(selfSigned, { release: 'debian-12', init: 'systemd' }).includes('cron'));
    assert.ok(packagesFor(selfSigned, { release: 'debian-12', init: 'sysv' }).includes('cron'), 'the sending-limit notices are scheduled without the renewal agent too');
  });

  it('every rendered file belongs to a registered service (or the shared TLS files)', () => {
    const config = oneDomainConfig();
    const files = render({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    const names = new Set(SERVICES.map((s) => s.name));
    for (const f of files) assert.ok(names.has(f.service), `${f.path}: ${f.service}`);
  });
});
