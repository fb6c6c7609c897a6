// The local resolver and outbound DANE: what unbound, resolv.conf and Postfix are rendered with,
// and how check reads the host's resolver and Postfix's TLS log lines.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { countOutboundTls, judgeOutboundTls, logTime } from '../../src/check/deliverability/outbound-tls.js';
import { judgeResolvConf, judgeResolver } from '../../src/check/host/resolver.js';
import { dnsProbeQuery, parseDnsProbe } from '../../src/host/dns-probe.js';
import { parseCheckFacts, parseUtcOffset, SMTP_TLS_SED, type CheckFacts } from '../../src/host/facts-check.js';
import { parseFacts } from '../../src/host/facts.js';
import { render } from '../../src/services/index.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';

const files = (overrides: Parameters<typeof oneDomainConfig>[0] = {}, release: 'debian-12' | 'debian-13' = 'debian-12') => {
  const config = oneDomainConfig(overrides);
  const out = new Map(render({ config, keys: fixtureKeys(['example.com']), release }).map((f) => [f.path, f]));
  const get = (path: string) => {
    const f = out.get(path);
    assert.ok(f, `renders ${path}`);
    return f;
  };
  return { out, get, text: (path: string) => get(path).content };
};

const settings = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).map((l) => l.trim());

describe('unbound and resolv.conf as rendered', () => {
  it('loopback only, validating from the root key, small, with the control socket only', () => {
    const { get, text } = files();
    const conf = settings(text('/etc/unbound/unbound.conf'));
    for (const s of ['interface: 127.0.0.1', 'access-control: 0.0.0.0/0 refuse', 'access-control: 127.0.0.0/8 allow', 'num-threads: 1', 'qname-minimisation: yes', 'prefetch: yes', 'harden-dnssec-stripped: yes', 'module-config: "validator iterator"', 'trust-anchor-file: "/usr/share/dns/root.key"', 'control-interface: "/run/unbound.ctl"']) {
      assert.ok(conf.includes(s), s);
    }
    assert.ok(!conf.some((l) => l.startsWith('include')), 'reads none of the package files');
    assert.ok(!conf.includes('interface: ::1') && conf.includes('do-ip6: no'), 'no IPv6 without server.ipv6');
    assert.ok(!conf.some((l) => l.startsWith('forward-')), 'full recursion without forwarders');
    assert.ok(!conf.some((l) => l.includes('lan-zones')), 'private reverse zones stay local without forwarders');
    assert.ok(!settings(text('/etc/postfix/main.cf')).some((l) => l.startsWith('dnssec_probe')), "the root's NS, Postfix's default probe");
    assert.equal(get('/etc/unbound/unbound.conf').onChange, 'restart');
    assert.deepEqual(settings(text('/etc/resolv.conf')), ['nameserver 127.0.0.1', 'options trust-ad timeout:2 attempts:2']);
    assert.equal(text('/var/spool/postfix/etc/resolv.conf'), text('/etc/resolv.conf'), "Postfix's chroot copy is the same");
    assert.match(text('/etc/dhcp/dhclient-enter-hooks.d/zz-mailrig-resolv-conf'), /^make_resolv_conf\(\) \{\n {4}:\n\}$/m);
    assert.match(text('/etc/default/unbound'), /^RESOLVCONF=false$/m);
  });

  it('forwarders, extra anchors, no root key, IPv6: in unbound.conf; resolv.conf names unbound alone', () => {
    const { text } = files({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10', ssh: 'root@203.0.113.10', release: 'debian-13' },
      resolver: { forwarders: ['192.0.2.53', '127.0.0.1@5353', '2001:db8::53', '192.0.2.54'], trust_anchors: ['remote.test. IN DS 12345 13 2 ABCDEF'], root_trust_anchor: false },
    } as never, 'debian-13');
    const conf = settings(text('/etc/unbound/unbound.conf'));
    for (const s of ['interface: ::1', 'access-control: ::1/128 allow', 'do-ip6: yes', 'do-not-query-localhost: no', 'trust-anchor: "remote.test. IN DS 12345 13 2 ABCDEF"', 'name: "."', 'forward-addr: 192.0.2.53', 'forward-addr: 127.0.0.1@5353', 'forward-addr: 2001:db8::53']) {
      assert.ok(conf.includes(s), s);
    }
    assert.ok(!conf.some((l) => l.startsWith('trust-anchor-file')), 'no root key');
    assert.ok(conf.includes('unblock-lan-zones: yes') && conf.includes('insecure-lan-zones: yes'), 'private reverse zones go to the forwarders');
    assert.ok(settings(text('/etc/postfix/main.cf')).includes('dnssec_probe = ns:remote.test.'), "Postfix probes the anchor's zone, not the root");
    const v4host = settings(files({ resolver: { forwarders: ['2001:db8::53'] } } as never).text('/etc/unbound/unbound.conf'));
    assert.ok(v4host.includes('do-ip6: yes') && !v4host.includes('interface: ::1'), 'an IPv6 forwarder is asked over IPv6; ::1 only with server.ipv6');
    // No fallback, forwarders or not: glibc would ask it whenever unbound answers SERVFAIL, as it
    // answers a bogus signature, and a forged TLSA record would pass for none.
    assert.deepEqual(settings(text('/etc/resolv.conf')).filter((l) => l.startsWith('nameserver')), ['nameserver 127.0.0.1']);
    assert.equal(text('/var/spool/postfix/etc/resolv.conf'), text('/etc/resolv.conf'));
  });

  it('rspamd asks unbound only', () => {
    assert.match(files().text('/etc/rspamd/local.d/options.inc'), /^ {2}nameserver = \["127\.0\.0\.1:53"\];$/m);
  });
});

describe('outbound DANE in Postfix as rendered', () => {
  it('dnssec lookups, dane by default, a policy table (empty without tls_policy), TLS logged', () => {
    const { get, text } = files();
    const main = settings(text('/etc/postfix/main.cf'));
    for (const s of ['smtp_dns_support_level = dnssec', 'smtp_tls_security_level = dane', 'smtp_tls_policy_maps = lmdb:/etc/postfix/tls_policy, socketmap:inet:127.0.0.1:8462:postfix', 'smtp_tls_loglevel = 1']) assert.ok(main.includes(s), s);
    assert.deepEqual(settings(text('/etc/postfix/tls_policy')), []);
    assert.equal(get('/etc/postfix/tls_policy').onChange, 'postmap');
  });

  it('tls_policy rows, and relays keep "secure" whatever the table says', () => {
    const { text } = files({
      tls_policy: { 'partner.example': 'encrypt', '.bank.example': 'dane-only', 'relay.example.net': 'may' },
      relay: { default: { host: 'relay.example.net', port: 25 } },
    } as never);
    assert.deepEqual(settings(text('/etc/postfix/tls_policy')), ['.bank.example dane-only', 'partner.example encrypt', 'relay.example.net may']);
    const master = text('/etc/postfix/master.cf');
    for (const transport of ['smarthost', 'smarthost-tls']) {
      const block = new RegExp(`^${transport} +unix[^\\n]*\\n((?:  -o [^\\n]*\\n)+)`, 'm').exec(master)?.[1] ?? '';
      assert.match(block, /-o smtp_tls_security_level=secure\n/, transport);
      assert.match(block, /-o smtp_tls_policy_maps=\n/, `${transport}: no policy table`);
    }
  });
});

describe('check: the resolver', () => {
  // Recorded with the probe script against a resolver: a NOERROR answer with AD, a refused query.
  const validated = [' 4d 52 81 a0 00 01 00 01 00 00 00 00 04 6d 61 69', ' 6c 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01', ' 00 01 c0 0c 00 01 00 01 00 00 0e 10 00 04 cb 00', ' 71 0a'];
  const refused = ["dd: error reading 'standard input': Connection refused"];

  it('the probe: the query asks for AD; answers decoded; a refusal is no answer', () => {
    const q = dnsProbeQuery('mail.example.com');
    assert.equal(q.readUInt16BE(2) & 0x0120, 0x0120, 'RD and AD set');
    assert.deepEqual(parseDnsProbe(validated), { answered: true, rcode: 'NOERROR', authenticated: true, error: undefined });
    assert.deepEqual(parseDnsProbe(refused), { answered: false, rcode: undefined, authenticated: false, error: refused[0] });
    assert.equal(parseDnsProbe([]).error, 'no answer within 5 s');
  });

  const check = (lines: string[]): CheckFacts => parseCheckFacts(['### mailrig-check resolver', ...lines, '### mailrig-check end'].join('\n'));
  const facts = (unbound: boolean) => parseFacts(`### mailrig-facts processes\nunbound\t${unbound ? '7' : ''}\n`);

  it('up and validating: ok; down: fail with the fix; SERVFAIL: warn', () => {
    assert.equal(judgeResolver('mail.example.com', check(validated), facts(true), 'systemctl start unbound').status, 'ok');
    assert.match(judgeResolver('mail.example.com', check(validated), facts(true), '').message, /DNSSEC-validated/);
    const down = judgeResolver('mail.example.com', check(refused), facts(false), 'systemctl start unbound');
    assert.equal(down.status, 'fail');
    assert.match(down.message, /^resolver down: nothing answers DNS on 127\.0\.0\.1:53/);
    assert.match(down.fix ?? '', /systemctl start unbound/);
    assert.match(judgeResolver('x', check(refused), facts(true), '').message, /unbound runs, but nothing answers/);
    const servfail = validated.map((l, i) => (i === 0 ? l.replace('81 a0', '81 82') : l));
    assert.equal(judgeResolver('mail.example.com', check(servfail), facts(true), '').status, 'warn');
  });

  it('resolv.conf: 127.0.0.1 alone with trust-ad; a nameserver after it warns; another first fails', () => {
    assert.equal(judgeResolvConf(['nameserver 127.0.0.1', 'options trust-ad timeout:2 attempts:2']).status, 'ok');
    const fallback = judgeResolvConf(['nameserver 127.0.0.1', 'nameserver 192.0.2.53', 'options trust-ad timeout:2']);
    assert.equal(fallback.status, 'warn');
    assert.match(fallback.message, /also names 192\.0\.2\.53/);
    assert.match(judgeResolvConf(['nameserver 10.0.0.1', 'nameserver 127.0.0.1', 'options trust-ad']).message, /names 10\.0\.0\.1 first/);
    assert.match(judgeResolvConf(['nameserver 127.0.0.1', 'options edns0']).message, /lacks "options trust-ad"/);
    assert.equal(judgeResolvConf([]).status, 'fail');
  });
});

describe('check: outbound TLS in the last 24 hours', () => {
  const log = [
    'Dec 01 09:00:00 mail postfix/smtp[100]: Verified TLS connection established to old.example[192.0.2.9]:25: TLSv1.3',
    'Dec 01 09:00:01 mail postfix/smtp[100]: 1A: to=<a@old.example>, relay=old.example[192.0.2.9]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec 02 09:00:00 mail postfix/smtp[101]: Verified TLS connection established to mx.dane.example[192.0.2.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384',
    'Dec 02 09:00:01 mail postfix/smtp[101]: 2A: to=<a@dane.example>, relay=mx.dane.example[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec 02 09:00:01 mail postfix/smtp[101]: 2A: to=<b@dane.example>, orig_to=<x@example.com>, relay=mx.dane.example[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:05:00 mail postfix/smtp[102]: Trusted TLS connection established to mx.ca.example[192.0.2.2]:25: TLSv1.2',
    'Dec  2 09:05:01 mail postfix/smtp[102]: 3A: to=<a@ca.example>, relay=mx.ca.example[192.0.2.2]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:10:00 mail postfix/smtp[103]: Anonymous TLS connection established to mx.may.example[192.0.2.3]:25: TLSv1.3',
    'Dec  2 09:10:01 mail postfix/smtp[103]: 4A: to=<a@may.example>, relay=mx.may.example[192.0.2.3]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:20:00 mail postfix/smtp[103]: 5A: to=<a@plain.example>, relay=mx.plain.example[192.0.2.4]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:20:02 mail postfix/smtp[104]: 6A: to=<b@plain.example>, relay=mx.plain.example[192.0.2.4]:25, conn_use=2, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:21:00 mail postfix/smtp[101]: 7A: to=<c@dane.example>, relay=mx.dane.example[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:30:00 mail postfix/smtp[105]: 8A: to=<a@down.example>, relay=none, delay=30, dsn=4.4.1, status=deferred (connect timed out)',
    'Dec  2 09:40:00 mail postfix/smarthost/smtp[106]: 9A: to=<a@relayed.example>, relay=relay.example.net[192.0.2.8]:587, delay=1, dsn=2.0.0, status=sent (250 ok)',
    // MTA-STS: a policy whose MX names the certificate carries (Verified), then one it does not: the
    // session is encrypted, the mail deferred, not a delivery.
    'Dec  2 09:50:00 mail postfix/smtp[107]: Verified TLS connection established to mx.sts.example[192.0.2.6]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384',
    'Dec  2 09:50:01 mail postfix/smtp[107]: AA: to=<a@sts.example>, relay=mx.sts.example[192.0.2.6]:25, delay=1, dsn=2.0.0, status=sent (250 ok)',
    'Dec  2 09:55:00 mail postfix/smtp[108]: Trusted TLS connection established to mx.sts.example[192.0.2.6]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384',
    'Dec  2 09:55:01 mail postfix/smtp[108]: AB: to=<b@sts.example>, relay=mx.sts.example[192.0.2.6]:25, delay=1, dsn=4.7.5, status=deferred (Server certificate not verified)',
  ];
  // 2026-12-02 10:00 at UTC+1 (the host's clock): the first two lines are older than 24 hours.
  const now = Date.UTC(2026, 11, 2, 9, 0, 0) / 1000;

  it("reduces Postfix's lines on the host with sed, to what the count reads", () => {
    const out = execFileSync('sed', ['-nE', SMTP_TLS_SED], { input: `${log.join('\n')}\n` }).toString().trim().split('\n');
    assert.equal(out.length, 15, 'TLS lines and sent deliveries of postfix/smtp only');
    assert.deepEqual(out[2]?.split('\t'), ['Dec 02 09:00:00', '101', 'tls', 'Verified', 'mx.dane.example[192.0.2.1]:25']);
    assert.deepEqual(out[10]?.split('\t'), ['Dec  2 09:20:02', '104', 'sent', '6A', 'mx.plain.example[192.0.2.4]:25', '2']);
  });

  it('counts verified, encrypted and plaintext, in local time, the last 24 hours only', () => {
    const lines = execFileSync('sed', ['-nE', SMTP_TLS_SED], { input: `${log.join('\n')}\n` }).toString().trim().split('\n');
    const c = countOutboundTls(lines, now, 60);
    // Trusted (a CA-signed chain, its name unchecked) is encrypted, not verified.
    assert.deepEqual(c, { verified: 2, encrypted: 3, plaintext: 3, sent: 8 });
    const r = judgeOutboundTls(c);
    assert.equal(r.status, 'warn');
    assert.match(r.message, /^2 verified TLS connections .*3 connections encrypted without verification, 3 deliveries in plaintext$/);
    assert.match(r.fix ?? '', /tls_policy/);
    assert.equal(judgeOutboundTls({ verified: 1, encrypted: 0, plaintext: 0, sent: 1 }).status, 'ok');
    assert.match(judgeOutboundTls({ verified: 0, encrypted: 0, plaintext: 0, sent: 0 }).message, /^no mail sent to other servers/);
    assert.match(judgeOutboundTls({ verified: 0, encrypted: 0, plaintext: 0, sent: 0 }, true).message, /the default relay takes it/);
  });

  it('log times: local, the year that is not in the future; UTC offsets', () => {
    assert.equal(logTime('Dec  2 10:00:00', now, 60), now);
    assert.equal(logTime('Dec 31 23:00:00', Date.UTC(2027, 0, 1, 1) / 1000, 0), Date.UTC(2026, 11, 31, 23) / 1000);
    assert.equal(logTime('Foo  2 10:00:00', now, 0), undefined);
    assert.deepEqual(['+0100', '-0530', '+0000', 'x'].map(parseUtcOffset), [60, -330, 0, 0]);
  });
});
