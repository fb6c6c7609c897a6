// Webmail (webmail: roundcube): nothing of it without the setting; with it, Roundcube's settings,
// its PHP-FPM pool, the nginx part under /mail/ and its fail2ban jail, per release; the des_key from
// the key store only in a file www-data alone may read, masked in the plan; php-fpm started and
// checked only while it is on.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { ensureRoundcubeDesKey, ROUNDCUBE_DES_KEY_FILE } from '../../src/keys/roundcube.js';
import { ensureKeys, loadKeys } from '../../src/keys/store.js';
import { desiredState } from '../../src/plan/desired.js';
import { formatPlan } from '../../src/plan/format.js';
import { makePlan } from '../../src/plan/plan.js';
import { sha256 } from '../../src/plan/plan.js';
import { serviceCommand } from '../../src/apply/scripts.js';
import { phpPoolFile, phpString, ROUNDCUBE_CONFIG, ROUNDCUBE_JAIL, WEBMAIL_NGINX_SNIPPET } from '../../src/render/roundcube.js';
import { daemonSpec, daemonsFor, packagesFor, render, unitName } from '../../src/services/index.js';
import type { FileSpec } from '../../src/render/types.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';
import type { Facts } from '../../src/host/facts.js';

function config(release: Release, extra: Record<string, unknown> = {}) {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    ...extra,
  } as never);
}
const keys = fixtureKeys(['example.com']);
const files = (release: Release, extra: Record<string, unknown> = {}): FileSpec[] => render({ config: config(release, extra), keys, release });
const file = (fs: FileSpec[], path: string): FileSpec => {
  const f = fs.find((x) => x.path === path);
  assert.ok(f, `${path} is rendered`);
  return f;
};

describe('webmail: roundcube', () => {
  for (const [release, php] of [['debian-12', '8.2'], ['debian-13', '8.4']] as const) {
    it(`${release}: off by default — no package, file, include or daemon of it`, () => {
      const fs = files(release);
      assert.deepEqual(fs.filter((f) => /roundcube|webmail|php/.test(f.path)), []);
      assert.doesNotMatch(file(fs, '/etc/nginx/conf.d/mailrig.conf').content, /webmail/);
      const c = config(release);
      assert.ok(!packagesFor(c, { release, init: 'systemd' }).some((p) => /php|roundcube|apache/.test(p)));
      assert.ok(!daemonsFor(c).includes('roundcube'));
    });

    it(`${release}: on — PHP ${php} FPM named beside Roundcube (no Apache), started and checked as php${php}-fpm`, () => {
      const c = config(release, { webmail: 'roundcube' });
      const pkgs = packagesFor(c, { release, init: 'systemd' });
      for (const p of [`php${php}-fpm`, 'roundcube-core', 'roundcube-sqlite3', 'roundcube-plugins']) assert.ok(pkgs.includes(p), p);
      assert.ok(!pkgs.some((p) => /apache/.test(p)));
      assert.ok(daemonsFor(c).includes('roundcube'));
      assert.ok(daemonsFor(c).indexOf('roundcube') < daemonsFor(c).indexOf('nginx'), 'PHP-FPM before nginx');
      assert.equal(unitName(daemonSpec('roundcube'), release), `php${php}-fpm`);
      assert.ok(new RegExp(`^(?:${daemonSpec('roundcube').mainProcess})$`).test(`php-fpm${php}`), 'pgrep -x finds the versioned process name');
    });

    it(`${release}: the pool idles at zero workers and takes a message as large as Postfix does`, () => {
      const fs = files(release, { webmail: 'roundcube', mail: { message_size_limit: '30M' } });
      const pool = file(fs, phpPoolFile(release));
      assert.equal(pool.path, `/etc/php/${php}/fpm/pool.d/zz-mailrig-roundcube.conf`);
      assert.equal(pool.onChange, 'reload');
      // Both pools on demand: Debian's [www] (merged by name) and Roundcube's own.
      assert.deepEqual(pool.content.match(/^pm = .*$/gm), ['pm = ondemand', 'pm = ondemand']);
      assert.match(pool.content, /^\[www\]$/m);
      assert.match(pool.content, /^php_admin_value\[upload_max_filesize\] = 30M$/m);
      assert.match(pool.content, /^php_admin_value\[post_max_size\] = 30M$/m);
      assert.match(pool.content, /^php_admin_flag\[session\.cookie_secure\] = on$/m);
      assert.match(pool.content, /^php_admin_flag\[session\.cookie_httponly\] = on$/m);
      assert.match(pool.content, /^php_admin_value\[session\.cookie_samesite\] = Strict$/m);
      assert.match(file(fs, WEBMAIL_NGINX_SNIPPET).content, /^client_max_body_size 30M;$/m);
      assert.match(file(fs, ROUNDCUBE_CONFIG).content, /^\$config\['max_message_size'\] = '31457280';$/m);
    });
  }

  it('Roundcube: implicit TLS on loopback checked against the host name, managesieve only, the des_key from the key store', () => {
    const fs = files('debian-12', { webmail: 'roundcube', tls: { acme: 'self-signed' } });
    const cfg = file(fs, ROUNDCUBE_CONFIG);
    assert.deepEqual([cfg.mode, cfg.owner, cfg.group, cfg.secret], ['0640', 'root', 'www-data', true]);
    assert.match(cfg.content, /^\$config\['imap_host'\] = 'ssl:\/\/127\.0\.0\.1:993';$/m);
    assert.match(cfg.content, /^\$config\['smtp_host'\] = 'ssl:\/\/127\.0\.0\.1:465';$/m);
    assert.match(cfg.content, /'verify_peer' => true,/);
    assert.match(cfg.content, /'peer_name' => 'mail\.example\.com',/);
    assert.match(cfg.content, /'cafile' => '\/etc\/mailrig\/tls\/fullchain\.pem',/, 'self-signed: the host\'s own certificate is the anchor');
    assert.match(cfg.content, /^\$config\['plugins'\] = \['managesieve'\];$/m, 'no password plugin');
    assert.ok(cfg.content.includes(`$config['des_key'] = '${keys.roundcubeDesKey ?? 'missing'}';`));
    assert.match(cfg.content, /^\$config\['session_samesite'\] = 'Strict';$/m);
    // A CA-issued certificate chains to the system's CAs: no cafile then.
    const acme = file(files('debian-12', { webmail: 'roundcube' }), ROUNDCUBE_CONFIG);
    assert.doesNotMatch(acme.content, /cafile/);
  });

  it('nginx: the mail host includes the webmail part, which serves only the script and static files, with the security headers', () => {
    const fs = files('debian-13', { webmail: 'roundcube' });
    assert.match(file(fs, '/etc/nginx/conf.d/mailrig.conf').content, new RegExp(`^\\tinclude ${dirname(WEBMAIL_NGINX_SNIPPET)}/\\*\\.conf;$`, 'm'));
    const snippet = file(fs, WEBMAIL_NGINX_SNIPPET).content;
    assert.match(snippet, /add_header Content-Security-Policy "[^"]*frame-ancestors 'self'[^"]*object-src 'none'" always;/);
    assert.match(snippet, /add_header X-Frame-Options "SAMEORIGIN" always;/);
    assert.match(snippet, /add_header X-Content-Type-Options "nosniff" always;/);
    assert.match(snippet, /fastcgi_param SCRIPT_FILENAME \/var\/lib\/roundcube\/public_html\/index\.php;/);
    assert.doesNotMatch(snippet, /\.php\|/, 'no PHP file served as a static file');
    assert.match(snippet, /location \/mail\/ \{\n\treturn 404;/);
  });

  it('fail2ban: a jail on Roundcube\'s login log with the security settings, blocking the web ports', () => {
    const fs = files('debian-12', { webmail: 'roundcube', security: { max_auth_failures: 4, ban_minutes: 30 } });
    const jail = file(fs, ROUNDCUBE_JAIL);
    assert.equal(jail.service, 'fail2ban');
    assert.match(jail.content, /^logpath = \/var\/log\/roundcube\/userlogins\.log$/m);
    assert.match(jail.content, /^maxretry = 4$/m);
    assert.match(jail.content, /^bantime = 30m$/m);
    assert.match(jail.content, /^port = 80,443$/m);
    const filter = file(fs, '/etc/fail2ban/filter.d/mailrig-roundcube.conf').content;
    const regex = /^failregex = (.*)$/m.exec(filter)?.[1] ?? '';
    const re = new RegExp(regex.replace('<F-USER>', '').replace('</F-USER>', '').replace('<HOST>', '(\\S+)'));
    for (const line of [
      '[]: <0a1b2c3d> Failed login for alice@example.com from 192.0.2.7 in session 0a1b2c3d4e5f6a7b (error: -1)',
      '[]: Failed login for nobody from 192.0.2.7 in session no-session (error: 0)',
    ]) assert.equal(re.exec(line)?.[1], '192.0.2.7', line);
    assert.equal(re.exec('[]: <0a1b2c3d> Successful login for alice@example.com (ID: 1) from 192.0.2.7 in session 0a1b'), null);
  });

  it('PHP strings are single-quoted with quotes and backslashes escaped', () => {
    assert.equal(phpString("it's a \\ test"), "'it\\'s a \\\\ test'");
  });

  it('the des_key is made once in the key store (0600, 24 characters) and the plan never shows it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mailrig-rc-')), '.mailrig');
    try {
      await ensureKeys(dir, { hostname: 'mail.example.com', domains: ['example.com'] });
      assert.equal(loadKeys(dir, ['example.com']).roundcubeDesKey, undefined, 'not made while no webmail is asked for');
      assert.equal(ensureRoundcubeDesKey(dir), true);
      assert.equal(ensureRoundcubeDesKey(dir), false, 'made once');
      const first = loadKeys(dir, ['example.com']).roundcubeDesKey ?? '';
      assert.equal(first.length, 24);
      assert.equal(statSync(join(dir, ROUNDCUBE_DES_KEY_FILE)).mode & 0o777, 0o600);
      assert.equal(loadKeys(dir, ['example.com']).roundcubeDesKey, first, 'kept');
      assert.equal(readFileSync(join(dir, ROUNDCUBE_DES_KEY_FILE), 'utf8').trim(), first);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
    const ctx = { config: config('debian-12', { webmail: 'roundcube' }), keys, release: 'debian-12' as const };
    const fresh: Facts = {
      os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
      release: 'debian-12',
      init: 'systemd',
      packages: {},
      files: {},
      services: {},
      users: [],
      timers: [],
      managed: [],
      data: [],
    };
    const plan = makePlan(desiredState(ctx, 'systemd'), fresh);
    assert.ok(plan.actions.some((a) => a.daemon === 'roundcube' && a.action === 'start'));
    const text = formatPlan(plan, { before: new Map() });
    assert.match(text, /\/etc\/roundcube\/config\.inc\.php/);
    assert.ok(keys.roundcubeDesKey && !text.includes(keys.roundcubeDesKey));
  });

  it('switched off: the plan removes its files and stops PHP-FPM for good; started again, it is enabled again', () => {
    const on = { config: config('debian-13', { webmail: 'roundcube' }), keys, release: 'debian-13' as const };
    const off = { config: config('debian-13'), keys, release: 'debian-13' as const };
    const desiredOn = desiredState(on, 'systemd');
    const manifest = desiredOn.files.map((f) => [f.path, f.service, f.onChange].join('\t'));
    const hostOn: Facts = {
      os: { id: 'debian', versionId: '13', codename: 'trixie', prettyName: 'Debian GNU/Linux 13 (trixie)' },
      release: 'debian-13',
      init: 'systemd',
      packages: Object.fromEntries(desiredOn.packages.map((p) => [p, '1'])),
      files: Object.fromEntries(desiredOn.files.map((f) => [f.path, { sha256: sha256(f.content), mode: f.mode, owner: f.owner, group: f.group }])),
      services: Object.fromEntries(desiredOn.daemons.map((d, i) => [d, 100 + i])),
      users: ['vmail'],
      timers: [],
      managed: manifest,
      data: [],
    };
    const plan = makePlan(desiredState(off, 'systemd'), hostOn);
    assert.deepEqual(plan.installs, []);
    assert.ok(plan.removals.some((r) => r.path === ROUNDCUBE_CONFIG));
    const stop = plan.actions.find((a) => a.daemon === 'roundcube');
    assert.equal(stop?.action, 'stop');
    assert.ok(stop.because.includes(phpPoolFile('debian-13')));
    assert.match(formatPlan(plan, { before: new Map() }), /^ {2}stop {4}roundcube/m);
    // Once it is stopped and its files are gone, nothing is left to do for it.
    const { roundcube: _stopped, ...running } = hostOn.services;
    const after = makePlan(desiredState(off, 'systemd'), { ...hostOn, services: running, managed: [] });
    assert.equal(after.actions.find((a) => a.daemon === 'roundcube'), undefined);
    // Only an optional daemon is disabled on stop and enabled on start.
    assert.match(serviceCommand('systemd', 'roundcube', 'stop', 'debian-13'), /^systemctl disable --now php8\.4-fpm /);
    assert.match(serviceCommand('systemd', 'roundcube', 'start', 'debian-12'), /^systemctl enable --now php8\.2-fpm /);
    assert.match(serviceCommand('sysv', 'roundcube', 'start', 'debian-12'), /^update-rc\.d php8\.2-fpm enable && service php8\.2-fpm start /);
    assert.match(serviceCommand('systemd', 'nginx', 'start'), /^systemctl start nginx /);
  });
});
