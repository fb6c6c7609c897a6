// More than one host: the servers list and its rules, what a backup MX renders (and what it leaves
// out), the DNS records of every host, and which hosts a run covers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { forHost, mxHosts, type Config } from '../../src/config/model.js';
import { ConfigError } from '../../src/errors.js';
import { selectServers } from '../../src/cli/apply.js';
import { buildRecords } from '../../src/dns/records.js';
import { mtaStsPolicy } from '../../src/dns/mtasts.js';
import { makeSelfSignedCertificate } from '../../src/keys/selfsigned.js';
import { publicKeys, type KeyMaterial } from '../../src/keys/store.js';
import { daemonsFor, daemonsOfRole, packagesFor, portsFor, render } from '../../src/services/index.js';
import { touchedDaemons } from '../../src/apply/apply.js';
import { makePlan } from '../../src/plan/plan.js';
import { desiredState } from '../../src/plan/desired.js';
import { parseFacts } from '../../src/host/facts.js';
import { TLS_CERT } from '../../src/render/tls.js';
import { POSTSCREEN_ACCESS } from '../../src/render/postfix.js';
import { isDeepStrictEqual } from 'node:util';
import { fixtureKeys, TEST_HASH } from '../support/fixtures.js';
import { fixtureProject, mailrig } from '../support/project.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Doc = Record<string, any>;

function base(): Doc {
  return {
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
    servers: [{ name: 'mx2', role: 'backup-mx', hostname: 'mx2.example.net', ipv4: '198.51.100.20', ipv6: '2001:db8::20', ssh: 'root@198.51.100.20', release: 'debian-13' }],
    admin_email: 'admin@example.com',
    tls: { acme: 'self-signed' },
    domains: {
      'example.com': {
        mailboxes: { alice: { password_hash: TEST_HASH, aliases: ['a.smith'] }, robot: { password_hash: TEST_HASH, send_only: true } },
        aliases: { postmaster: 'alice' },
      },
      'example.org': { mailboxes: { bob: { password_hash: TEST_HASH } }, catch_all: 'bob' },
    },
  };
}

function load(doc: Doc): Config {
  return parseConfig(stringify(doc), 'mailrig.yaml').config;
}

function problemsOf(doc: Doc): string[] {
  try {
    parseConfig(stringify(doc), 'mailrig.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

async function keysFor(config: Config): Promise<KeyMaterial> {
  const keys = fixtureKeys(config.domains.map((d) => d.name));
  const pems: Record<string, string> = {};
  for (const s of config.servers.slice(1)) pems[s.hostname] = await makeSelfSignedCertificate(keys.tls.current.privatePem, [s.hostname]);
  return { ...keys, hostCertPems: pems };
}

describe('servers in mailrig.yaml', () => {
  it('a single-server file has one host, the primary, named primary', () => {
    const doc = base();
    delete doc.servers;
    const config = load(doc);
    assert.deepEqual(config.servers.map((s) => [s.name, s.role]), [['primary', 'primary']]);
    assert.equal(config.server, config.servers[0]);
  });

  it('lists the primary first, then the others in the file order, each with its release and queue lifetime', () => {
    const config = load(base());
    assert.deepEqual(config.servers.map((s) => [s.name, s.role, s.hostname, s.release]), [
      ['primary', 'primary', 'mail.example.com', 'debian-12'],
      ['mx2', 'backup-mx', 'mx2.example.net', 'debian-13'],
    ]);
    assert.equal(config.servers[1]?.queueLifetime, '5d');
    assert.equal(forHost(config, 'mx2').server.name, 'mx2');
    assert.equal(forHost(config, 'primary'), config);
  });

  const cases: Array<[string, (d: Doc) => void, RegExp]> = [
    ['a name used twice', (d) => d.servers.push({ ...d.servers[0], hostname: 'mx3.example.net', ipv4: '198.51.100.30', ipv6: undefined, ssh: 'root@198.51.100.30' }), /^servers\.1\.name: mx2 is already the name of servers\.0/],
    ['the primary\'s host name again', (d) => (d.servers[0].hostname = 'mail.example.com'), /^servers\.0\.hostname: mail\.example\.com is already the hostname of server/],
    ['the primary\'s address again', (d) => (d.servers[0].ipv4 = '203.0.113.10'), /^servers\.0\.ipv4: 203\.0\.113\.10 is already the ipv4 of server/],
    ['a private address without allow_private_addresses', (d) => (d.servers[0].ipv4 = '10.0.0.2'), /^servers\.0\.ipv4: 10\.0\.0\.2 .*servers\.0\.allow_private_addresses/],
    ['a standby on another release than the primary', (d) => (d.servers[0].role = 'standby'), /^servers\.0\.release: is debian-13, the primary's \(server\.release\) is debian-12: a standby runs the primary's release/],
    [
      'a second standby',
      (d) => {
        d.servers[0].role = 'standby';
        d.servers[0].release = 'debian-12';
        d.servers.push({ ...d.servers[0], name: 'mx3', hostname: 'mx3.example.net', ipv4: '198.51.100.30', ipv6: undefined, ssh: 'root@198.51.100.30' });
      },
      /^servers\.1\.role: a second standby/,
    ],
    ['an unknown role', (d) => (d.servers[0].role = 'secondary'), /^servers\.0\.role: /],
    ['a queue lifetime that is not a time', (d) => (d.servers[0].queue_lifetime = 'a week'), /^servers\.0\.queue_lifetime: is not a time/],
    ['a bad name', (d) => (d.servers[0].name = 'MX 2'), /^servers\.0\.name: is not a host name for mailrig/],
    ['a missing ssh target', (d) => delete d.servers[0].ssh, /^servers\.0\.ssh: /],
  ];
  for (const [what, change, expected] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      const doc = base();
      change(doc);
      const problems = problemsOf(doc);
      assert.ok(problems.some((p) => expected.test(p)), problems.join('\n'));
    });
  }

  it('a private address is accepted with the primary\'s allow_private_addresses, or the host\'s own', () => {
    const doc = base();
    doc.servers[0].ipv4 = '10.0.0.2';
    doc.server.allow_private_addresses = true;
    doc.server.ipv4 = '10.0.0.1';
    assert.deepEqual(problemsOf(doc), []);
    doc.server.allow_private_addresses = false;
    doc.server.ipv4 = '203.0.113.10';
    doc.servers[0].allow_private_addresses = true;
    assert.deepEqual(problemsOf(doc), []);
  });

  it('--host picks one host by name or host name; an unknown one is bad input naming the hosts', () => {
    const config = load(base());
    assert.deepEqual(selectServers(config, undefined).map((s) => s.name), ['primary', 'mx2']);
    assert.deepEqual(selectServers(config, 'mx2').map((s) => s.name), ['mx2']);
    assert.deepEqual(selectServers(config, 'MAIL.example.com').map((s) => s.name), ['primary']);
    assert.throws(() => selectServers(config, 'mx9'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /hosts: primary, mx2/.test(e.message));
  });
});

describe('a backup MX', () => {
  it('runs Postfix, rspamd, Redis and the resolver; no Dovecot, web, SRS, fail2ban, schedules or DKIM keys', async () => {
    const config = forHost(load(base()), 'mx2');
    assert.deepEqual(daemonsFor(config), ['unbound', 'redis', 'rspamd', 'mta-sts', 'sts-front', 'postfix']);
    const packages = packagesFor(config, { release: 'debian-13', init: 'systemd' });
    assert.ok(packages.includes('postfix') && packages.includes('rspamd'));
    assert.ok(!packages.some((p) => p.startsWith('dovecot') || p === 'nginx' || p === 'postsrsd' || p === 'fail2ban'), packages.join(' '));
    assert.deepEqual(portsFor(config).postfix, [25]);
    const ports = Object.values(portsFor(config)).flat();
    assert.ok(ports.includes(25) && ports.includes(11332), ports.join(' '));
    assert.deepEqual([143, 993, 4190, 80, 443, 465, 587].filter((p) => ports.includes(p)), [], 'no login or web port is health-checked');
    assert.deepEqual(portsFor(config).dovecot, []);
    assert.deepEqual(portsFor(config).nginx, []);
    const files = render({ config, keys: await keysFor(config), release: config.server.release });
    const services = new Set(files.map((f) => f.service));
    assert.ok(!services.has('dovecot') && !services.has('nginx') && !services.has('postsrsd') && !services.has('limits'), [...services].join(' '));
    assert.deepEqual(files.filter((f) => f.path.startsWith('/var/lib/rspamd/dkim/')), [], 'the DKIM keys stay on the primary');
  });

  it('a new certificate is validated and reloaded with Postfix only: no Dovecot or nginx to ask', async () => {
    const config = forHost(load(base()), 'mx2');
    const ctx = { config, keys: await keysFor(config), release: 'debian-13' as const };
    const files = render(ctx).filter((f) => f.path === TLS_CERT || f.path === '/etc/postfix/main.cf');
    const plan = makePlan({ ...desiredState(ctx, 'systemd', files), daemons: ['postfix'] }, { ...parseFacts(''), services: { postfix: 1 } } as never);
    assert.deepEqual(touchedDaemons(plan), ['dovecot', 'nginx', 'postfix'], 'on the primary, every TLS consumer');
    assert.deepEqual(touchedDaemons(plan, daemonsOfRole(config)), ['postfix']);
    assert.deepEqual(plan.actions.map((a) => `${a.action} ${a.daemon}`), ['reload postfix']);
  });

  it("relays the mail domains' existing recipients to the primary by name, holds mail for the configured time, never delivers locally", async () => {
    const doc = base();
    doc.servers[0].queue_lifetime = '7d';
    const config = forHost(load(doc), 'mx2');
    const files = new Map(render({ config, keys: await keysFor(config), release: 'debian-13' }).map((f) => [f.path, f.content]));
    const main = files.get('/etc/postfix/main.cf') ?? '';
    for (const line of [
      'myhostname = mx2.example.net',
      'mydestination = $myhostname, localhost',
      'relay_domains = lmdb:/etc/postfix/relay_domains',
      'relay_recipient_maps = lmdb:/etc/postfix/relay_recipients',
      'transport_maps = lmdb:/etc/postfix/transport',
      'maximal_queue_lifetime = 7d',
      'bounce_queue_lifetime = 7d',
      'smtp_tls_security_level = dane',
      'compatibility_level = 3.10',
      'inet_protocols = all',
    ]) {
      assert.ok(main.split('\n').includes(line), `main.cf: ${line}`);
    }
    assert.doesNotMatch(main, /virtual_|lmtp|smtpd_sasl|sender_canonical/);
    const rows = (path: string) => (files.get(path) ?? '').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(rows('/etc/postfix/relay_domains'), ['example.com OK', 'example.org OK']);
    assert.deepEqual(rows('/etc/postfix/relay_recipients'), ['a.smith@example.com OK', 'alice@example.com OK', 'postmaster@example.com OK', 'bob@example.org OK', '@example.org OK']);
    assert.deepEqual(rows('/etc/postfix/transport'), ['example.com smtp:[mail.example.com]:25', 'example.org smtp:[mail.example.com]:25']);
    assert.deepEqual(rows('/etc/postfix/send_only_recipients'), ['robot@example.com 550 5.1.1 This address only sends mail; it receives none']);
    const master = files.get('/etc/postfix/master.cf') ?? '';
    assert.match(master, /^smtp {6}inet .* postscreen$/m);
    assert.doesNotMatch(master, /^submissions? /m);
  });

  it('serves its own certificate, for its own name, from the key store\'s current key', async () => {
    const config = forHost(load(base()), 'mx2');
    const keys = await keysFor(config);
    const cert = render({ config, keys, release: 'debian-13' }).find((f) => f.path === TLS_CERT);
    assert.equal(cert?.content, keys.hostCertPems?.['mx2.example.net']);
    assert.notEqual(cert?.content, keys.tls.selfSignedCertPem);
  });

  it('adds to the primary only what mail from its backup MX needs: two files, and lines in four', async () => {
    const doc = base();
    const multi = load(doc);
    delete doc.servers;
    const single = load(doc);
    const keys = await keysFor(multi);
    const strip = (files: ReturnType<typeof render>) => files.filter((f) => !f.path.startsWith('/var/www/') && !f.path.includes('mta-sts'));
    const m = new Map(strip(render({ config: multi, keys, release: 'debian-12' })).map((f) => [f.path, f]));
    const s = new Map(strip(render({ config: single, keys, release: 'debian-12' })).map((f) => [f.path, f]));
    assert.deepEqual([...m.keys()].filter((p) => !s.has(p)).sort(), [POSTSCREEN_ACCESS, '/etc/rspamd/local.d/external_relay.conf']);
    assert.deepEqual([...s.keys()].filter((p) => !m.has(p)), []);
    const changed = [...s.keys()].filter((p) => !isDeepStrictEqual(m.get(p), s.get(p))).sort();
    assert.deepEqual(changed, ['/etc/postfix/main.cf', '/etc/rspamd/local.d/greylist.conf', '/etc/rspamd/override.d/options.inc', '/etc/rspamd/rspamd.local.lua']);
    const lines = (files: typeof m, path: string) => (files.get(path)?.content ?? '').split('\n');
    for (const path of changed) {
      // Lines added, none changed or dropped; but local_addrs, which gains the backup's addresses.
      const after = lines(m, path);
      let at = 0;
      for (const line of lines(s, path)) {
        const found = line.startsWith('local_addrs = ') ? after.findIndex((l, i) => i >= at && l.startsWith(line.slice(0, -2))) : after.indexOf(line, at);
        assert.ok(found >= 0, `${path}: "${line}" kept, in order`);
        at = found + 1;
      }
    }
    assert.ok(lines(m, '/etc/postfix/main.cf').includes(`postscreen_access_list = permit_mynetworks, cidr:${POSTSCREEN_ACCESS}`));
    assert.deepEqual(lines(m, POSTSCREEN_ACCESS).filter((l) => l && !l.startsWith('#')), ['198.51.100.20/32\tpermit', '2001:db8::20/128\tpermit']);
    assert.match(m.get('/etc/rspamd/override.d/options.inc')?.content ?? '', /^local_addrs = \[.*, "198\.51\.100\.20", "2001:db8::20"\];$/m);
    assert.match(m.get('/etc/rspamd/local.d/greylist.conf')?.content ?? '', /^whitelist_symbols = \["MAILRIG_BACKUP_MX_RELAY"\];$/m);
    // The backup MX itself has none of it.
    const backup = render({ config: forHost(multi, 'mx2'), keys, release: 'debian-13' });
    assert.equal(backup.some((f) => f.path === POSTSCREEN_ACCESS || f.path.endsWith('external_relay.conf')), false);
    assert.doesNotMatch(backup.find((f) => f.path === '/etc/postfix/main.cf')?.content ?? '', /postscreen_access_list/);
  });
});

describe('DNS for several hosts', () => {
  it('MX 10 for the primary and 20 for the backup, SPF naming both, A/AAAA/TLSA per host name, PTR per address', async () => {
    const config = load(base());
    const records = buildRecords(config, publicKeys(await keysFor(config)));
    const of = (name: string, type: string) => records.filter((r) => r.name === name && r.type === type).map((r) => r.value);
    assert.deepEqual(of('example.com', 'MX'), ['10 mail.example.com.', '20 mx2.example.net.']);
    assert.deepEqual(of('example.org', 'MX'), ['10 mail.example.com.', '20 mx2.example.net.']);
    assert.deepEqual(of('example.com', 'TXT'), ['v=spf1 mx -all']);
    assert.match(records.find((r) => r.name === 'example.com' && r.type === 'TXT')?.purpose ?? '', /mail\.example\.com, mx2\.example\.net/);
    assert.deepEqual(of('mx2.example.net', 'A'), ['198.51.100.20']);
    assert.deepEqual(of('mx2.example.net', 'AAAA'), ['2001:db8::20']);
    assert.equal(of('_25._tcp.mx2.example.net', 'TLSA').length, 2);
    assert.deepEqual(of('_25._tcp.mx2.example.net', 'TLSA'), of('_25._tcp.mail.example.com', 'TLSA'));
    assert.equal(records.find((r) => r.name === 'mx2.example.net' && r.type === 'A')?.zone, 'example.net');
    const ptr = records.filter((r) => r.type === 'PTR').map((r) => r.value);
    assert.deepEqual(ptr, ['mail.example.com.', 'mx2.example.net.', 'mx2.example.net.']);
    assert.deepEqual(mxHosts(config).map((s) => s.name), ['primary', 'mx2']);
    assert.match(mtaStsPolicy(config), /mx: mail\.example\.com\r\nmx: mx2\.example\.net\r\n/);
  });
});

describe('mailrig plan and apply over hosts that cannot be reached', () => {
  /** The fixture project with both hosts' SSH on a closed loopback port (refused at once). */
  function project(extra = ''): ReturnType<typeof fixtureProject> {
    const p = fixtureProject();
    const yaml = p.read().replace('ssh: root@203.0.113.10', 'ssh: root@127.0.0.1:1');
    writeFileSync(
      p.config,
      `${yaml.trimEnd()}\nservers:\n  - name: mx2\n    role: backup-mx\n    hostname: mx2.example.net\n    ipv4: 198.51.100.20\n    ssh: root@127.0.0.2:1\n    release: debian-13\n${extra}`,
    );
    return p;
  }

  it('plan shows a heading per host, names each host it could not read, and exits 1', () => {
    const p = project();
    const r = mailrig(p.dir, ['plan']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /^== primary \(primary, mail\.example\.com\) ==\nprimary: not planned: /m);
    assert.match(r.out, /^== mx2 \(backup-mx, mx2\.example\.net\) ==\nmx2: not planned: /m);
    assert.match(r.err, /2 of 2 hosts failed: primary, mx2/);
    assert.match(r.err, /mx2 \(root@127\.0\.0\.2:1\): /);
    // The backup MX's certificate was made in the key store, for its own name.
    assert.ok(existsSync(join(p.keyDir, 'tls/selfsigned-mx2.crt')));
    assert.match(readFileSync(join(p.keyDir, 'tls/selfsigned-mx2.crt'), 'utf8'), /BEGIN CERTIFICATE/);
  });

  it('apply names the host it could not reach and exits 1; --host limits the run to one host', () => {
    const p = project();
    const all = mailrig(p.dir, ['apply', '--yes']);
    assert.equal(all.code, 1, all.out + all.err);
    assert.match(all.out, /^mx2: not applied: /m);
    assert.match(all.err, /2 of 2 hosts failed: primary, mx2/);
    const one = mailrig(p.dir, ['plan', '--host', 'mx2']);
    assert.equal(one.code, 1, one.out + one.err);
    assert.doesNotMatch(one.out, /== primary/);
    assert.match(one.err, /1 of 1 hosts failed: mx2/);
    const unknown = mailrig(p.dir, ['plan', '--host', 'mx3']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /--host mx3: no such host in mailrig\.yaml \(hosts: primary, mx2\)/);
  });

  it('a standby on another release than the primary is refused with exit 2 before any host is asked', () => {
    const p = project();
    writeFileSync(p.config, p.read().replace('role: backup-mx', 'role: standby'));
    const r = mailrig(p.dir, ['plan']);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /servers\.0\.release: is debian-13, the primary's \(server\.release\) is debian-12/);
  });
});
