// nginx and Redis: the release differences and the settings the rest of the system relies on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { renderNginx } from '../../src/render/nginx.js';
import { renderRedis } from '../../src/render/redis.js';
import { fixtureKeys } from '../support/fixtures.js';
import { RENDER_CASES } from '../support/render-cases.js';

function ctx(release: Release, caseName: string) {
  const config = RENDER_CASES.find((c) => c.name === caseName)?.config(release);
  if (!config) throw new Error(caseName);
  return { config, keys: fixtureKeys(config.domains.map((d) => d.name)), release };
}

function site(release: Release, caseName = 'one-domain'): string {
  return renderNginx(ctx(release, caseName)).find((f) => f.path === '/etc/nginx/conf.d/mailrig.conf')?.content ?? '';
}

describe('nginx', () => {
  it('spells HTTP/2 the way each release understands it', () => {
    assert.match(site('debian-12'), /^\tlisten 443 ssl http2 default_server;$/m);
    assert.doesNotMatch(site('debian-12'), /http2 on;/);
    assert.match(site('debian-13'), /^\tlisten 443 ssl default_server;$/m);
    assert.match(site('debian-13'), /^\thttp2 on;$/m);
  });

  it('turns session tickets off only where nginx does not rotate their key (1.22)', () => {
    assert.match(site('debian-12'), /^ssl_session_tickets off;$/m);
    assert.doesNotMatch(site('debian-13'), /ssl_session_tickets/);
  });

  it('listens on [::] only with server.ipv6', () => {
    assert.doesNotMatch(site('debian-13'), /\[::\]/);
    assert.match(site('debian-13', 'three-domains'), /^\tlisten \[::\]:80 default_server;$/m);
    assert.match(site('debian-13', 'three-domains'), /^\tlisten \[::\]:443 ssl default_server;$/m);
  });

  it('serves each domain its web names, IDNs in ASCII', () => {
    const conf = site('debian-13', 'three-domains');
    for (const prefix of ['mta-sts', 'autoconfig', 'autodiscover']) {
      assert.match(
        conf,
        new RegExp(`^\\tserver_name ${prefix}\\.example\\.com ${prefix}\\.example\\.net ${prefix}\\.xn--bcher-kva\\.example;$`, 'm'),
      );
    }
  });

  it('answers ACME challenges on port 80 from the webroot and redirects the rest', () => {
    const conf = site('debian-12');
    assert.match(conf, /location \^~ \/\.well-known\/acme-challenge\/ \{\n\t\troot \/var\/www\/mailrig\/acme;/);
    assert.match(conf, /return 301 https:\/\/\$host\$request_uri;/);
  });

  it('uses Mozilla intermediate TLS', () => {
    const conf = site('debian-12');
    assert.match(conf, /^ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    assert.match(conf, /^ssl_ecdh_curve X25519:prime256v1:secp384r1;$/m);
    assert.match(conf, /^ssl_prefer_server_ciphers off;$/m);
  });

  it('includes only conf.d, which leaves Debian\'s default site out', () => {
    const main = renderNginx(ctx('debian-12', 'one-domain')).find((f) => f.path === '/etc/nginx/nginx.conf')?.content ?? '';
    assert.match(main, /include \/etc\/nginx\/conf\.d\/\*\.conf;/);
    assert.doesNotMatch(main, /^\s*include \/etc\/nginx\/sites-enabled/m);
  });
});

describe('redis', () => {
  for (const release of ['debian-12', 'debian-13'] as const) {
    it(`${release}: loopback, capped, RDB only, as Debian's init script expects`, () => {
      const [file] = renderRedis(ctx(release, 'one-domain'));
      assert.ok(file);
      assert.deepEqual([file.path, file.mode, file.owner, file.group], ['/etc/redis/redis.conf', '0640', 'root', 'redis']);
      const settings = new Map(
        file.content
          .split('\n')
          .filter((l) => /^[a-z]/.test(l))
          .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)] as const),
      );
      assert.equal(settings.get('bind'), '127.0.0.1');
      assert.equal(settings.get('protected-mode'), 'yes');
      assert.equal(settings.get('maxmemory'), '128mb');
      assert.equal(settings.get('maxmemory-policy'), 'volatile-lru');
      assert.equal(settings.get('appendonly'), 'no');
      assert.equal(settings.get('daemonize'), 'yes');
      assert.equal(settings.get('pidfile'), '/run/redis/redis-server.pid');
      assert.equal(settings.get('dir'), '/var/lib/redis');
    });
  }
});
