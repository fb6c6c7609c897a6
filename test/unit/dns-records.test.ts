// Record building: which records each kind of configuration gets, with which names, zones and values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mtaStsId, mtaStsPolicy } from '../../src/dns/mtasts.js';
import { buildRecords, caaIssuer, hostZone } from '../../src/dns/records.js';
import { isInZone } from '../../src/dns/names.js';
import { writeFileSync } from 'node:fs';
import type { DnsRecord } from '../../src/dns/types.js';
import { dnsInProcess, fixtureProject } from '../support/project.js';
import { allCases, hostIsDomainCase, hostOutsideCase, oneDomainCase, threeDomainCase, type DnsCase } from '../support/dns-cases.js';

const rows = (records: DnsRecord[]) => records.map((r) => `${r.zone ?? '-'} ${r.name} ${r.type} ${r.value}`);
const find = (records: DnsRecord[], name: string, type: string) => records.filter((r) => r.name === name && r.type === type).map((r) => r.value);
const build = (c: DnsCase) => buildRecords(c.config, c.pub);

describe('buildRecords', () => {
  it('gives one domain with the host inside it every record, in a stable order', () => {
    const c = oneDomainCase();
    const r = build(c);
    const id = mtaStsId(mtaStsPolicy(c.config));
    const dkim = (alg: string) => c.pub.dkim.find((k) => k.domain === 'example.com' && k.algorithm === alg);
    assert.deepEqual(rows(r), [
      'example.com example.com MX 10 mail.example.com.',
      'example.com example.com TXT v=spf1 mx -all',
      `example.com ${dkim('rsa')?.selector}._domainkey.example.com TXT v=DKIM1; k=rsa; p=${dkim('rsa')?.publicValue}`,
      `example.com ${dkim('ed25519')?.selector}._domainkey.example.com TXT v=DKIM1; k=ed25519; p=${dkim('ed25519')?.publicValue}`,
      'example.com _dmarc.example.com TXT v=DMARC1; p=quarantine; rua=mailto:admin@example.com',
      `example.com _mta-sts.example.com TXT v=STSv1; id=${id}`,
      'example.com _smtp._tls.example.com TXT v=TLSRPTv1; rua=mailto:admin@example.com',
      'example.com mta-sts.example.com CNAME mail.example.com.',
      'example.com autoconfig.example.com CNAME mail.example.com.',
      'example.com autodiscover.example.com CNAME mail.example.com.',
      'example.com _submissions._tcp.example.com SRV 0 1 465 mail.example.com.',
      'example.com _submission._tcp.example.com SRV 0 1 587 mail.example.com.',
      'example.com _imaps._tcp.example.com SRV 0 1 993 mail.example.com.',
      'example.com _autodiscover._tcp.example.com SRV 0 1 443 mail.example.com.',
      'example.com example.com CAA 0 issue "letsencrypt.org"',
      'example.com mail.example.com A 203.0.113.10',
      `example.com _25._tcp.mail.example.com TLSA 3 1 1 ${c.pub.tlsa.current}`,
      `example.com _25._tcp.mail.example.com TLSA 3 1 1 ${c.pub.tlsa.next}`,
      'example.com mail.example.com MX 0 .',
      'example.com mail.example.com TXT v=spf1 a -all',
      'example.com _dmarc.mail.example.com TXT v=DMARC1; p=reject',
      '- 10.113.0.203.in-addr.arpa PTR mail.example.com.',
    ]);
    assert.deepEqual(buildRecords(c.config, c.pub), r, 'pure and deterministic');
  });

  const cases: Array<[string, () => DnsCase, (r: DnsRecord[], c: DnsCase) => void]> = [
    [
      'three domains: IDN in punycode with the Unicode form in the purpose, POP3 SRV, AAAA and its PTR',
      threeDomainCase,
      (r) => {
        assert.deepEqual(find(r, 'xn--bcher-kva.example', 'MX'), ['10 mail.example.com.']);
        assert.match(r.find((x) => x.name === 'xn--bcher-kva.example' && x.type === 'MX')?.purpose ?? '', /bücher\.example/);
        assert.deepEqual(find(r, '_dmarc.xn--bcher-kva.example', 'TXT'), ['v=DMARC1; p=none; rua=mailto:dmarc@xn--bcher-kva.example']);
        assert.deepEqual(find(r, '_dmarc.example.net', 'TXT'), ['v=DMARC1; p=reject; rua=mailto:admin@example.com']);
        assert.deepEqual(find(r, '_pop3s._tcp.example.net', 'SRV'), ['0 1 995 mail.example.com.']);
        assert.deepEqual(find(r, 'mail.example.com', 'AAAA'), ['2001:db8::10']);
        assert.deepEqual(find(r, '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'PTR'), ['mail.example.com.']);
        // example.net reports to admin@example.com: example.com must agree to receive them (RFC 7489 7.1).
        assert.deepEqual(find(r, 'example.net._report._dmarc.example.com', 'TXT'), ['v=DMARC1']);
        assert.equal(r.filter((x) => x.name.includes('._report._dmarc.')).length, 1);
      },
    ],
    [
      'host outside the mail domains: its records go in its parent zone, with their own CAA',
      hostOutsideCase,
      (r, c) => {
        assert.equal(hostZone(c.config), 'hoster.example');
        for (const name of ['mx1.hoster.example', '_25._tcp.mx1.hoster.example', '_dmarc.mx1.hoster.example']) {
          assert.ok(r.filter((x) => x.name === name).every((x) => x.zone === 'hoster.example'), name);
        }
        assert.deepEqual(find(r, 'mx1.hoster.example', 'MX'), ['0 .']);
        assert.deepEqual(find(r, 'mx1.hoster.example', 'CAA'), ['0 issue "letsencrypt.org"']);
        assert.deepEqual(find(r, 'example.org', 'MX'), ['10 mx1.hoster.example.']);
        assert.deepEqual([...new Set(r.map((x) => x.zone))], ['example.org', 'example.net', 'hoster.example', null]);
      },
    ],
    [
      'host is the mail domain: no null MX for it, self-signed so no CAA',
      hostIsDomainCase,
      (r) => {
        assert.deepEqual(find(r, 'example.org', 'MX'), ['10 example.org.']);
        assert.deepEqual(find(r, 'example.org', 'TXT'), ['v=spf1 mx -all']);
        assert.equal(r.filter((x) => x.type === 'CAA').length, 0);
        assert.deepEqual(find(r, 'mta-sts.example.org', 'CNAME'), ['example.org.']);
      },
    ],
  ];
  for (const [title, make, expect] of cases) {
    it(title, () => {
      const c = make();
      expect(build(c), c);
    });
  }

  it('names are FQDN, lower case, without trailing dot, inside their zone; PTR alone has no zone', () => {
    for (const c of allCases()) {
      for (const r of build(c)) {
        assert.match(r.name, /^[a-z0-9_.-]+[a-z0-9]$/, r.name);
        if (r.type === 'PTR') assert.equal(r.zone, null);
        else assert.ok(r.zone !== null && isInZone(r.name, r.zone), `${r.name} in ${r.zone}`);
        assert.ok(r.purpose.length > 10 && !r.purpose.includes('\n'));
        assert.equal(r.ttl, c.config.dns.ttl);
      }
    }
  });

  it('publishes active and next DKIM keys, never retired ones', () => {
    const c = oneDomainCase();
    const [rsa, ed] = c.pub.dkim;
    assert.ok(rsa && ed);
    const pub = { ...c.pub, dkim: [rsa, { ...ed, state: 'next' as const }, { ...rsa, selector: 'old', state: 'retired' as const }] };
    const dkim = buildRecords(c.config, pub).filter((r) => r.name.includes('._domainkey.'));
    assert.deepEqual(dkim.map((r) => r.name), [`${rsa.selector}._domainkey.example.com`, `${ed.selector}._domainkey.example.com`]);
    assert.match(dkim[1]?.purpose ?? '', /ahead of a key switch/);
  });

  it('names the CA in CAA only for Let\'s Encrypt', () => {
    const table: Array<[string, string | undefined]> = [
      ['letsencrypt', 'letsencrypt.org'],
      ['letsencrypt-staging', 'letsencrypt.org'],
      ['self-signed', undefined],
      ['https://acme.internal/dir', undefined],
    ];
    for (const [acme, issuer] of table) assert.equal(caaIssuer(acme), issuer, acme);
  });

  it('changes the MTA-STS id exactly when the policy changes', () => {
    const a = oneDomainCase();
    const sts = (c: DnsCase) => find(build(c), '_mta-sts.example.com', 'TXT')[0];
    assert.equal(sts(a), sts(oneDomainCase()));
    const moved = { ...a, config: { ...a.config, server: { ...a.config.server, hostname: 'mx.example.com' } } };
    assert.notEqual(sts(moved), sts(a));
  });

  it('dav: RFC 6764 SRV and TXT records per domain point CalDAV and CardDAV clients at the mail host, /dav/; none without dav', () => {
    const c = oneDomainCase();
    assert.deepEqual(find(build(c), '_caldavs._tcp.example.com', 'SRV'), []);
    const dav = buildRecords({ ...c.config, dav: 'radicale' }, c.pub);
    const davRows = rows(dav).filter((r) => /dav/.test(r));
    assert.deepEqual(davRows, [
      'example.com _caldavs._tcp.example.com SRV 0 1 443 mail.example.com.',
      'example.com _caldavs._tcp.example.com TXT path=/dav/',
      'example.com _carddavs._tcp.example.com SRV 0 1 443 mail.example.com.',
      'example.com _carddavs._tcp.example.com TXT path=/dav/',
    ]);
    for (const r of dav.filter((r) => /dav/.test(r.name))) assert.equal(r.required, false, 'optional: mail works without them');
    const three = threeDomainCase();
    const perDomain = buildRecords({ ...three.config, dav: 'radicale' }, three.pub).filter((r) => r.name.startsWith('_caldavs._tcp.') && r.type === 'SRV');
    assert.deepEqual(perDomain.map((r) => r.name), three.config.domains.map((d) => `_caldavs._tcp.${d.name}`));
  });

  it('mailrig dns prints the dav records, each with its purpose, once mailrig.yaml says dav: radicale', async () => {
    const p = fixtureProject();
    const without = await dnsInProcess(p.dir);
    assert.equal(without.code, 0, without.err);
    assert.doesNotMatch(without.out, /_caldavs|_carddavs/);
    writeFileSync(p.config, `${p.read().trimEnd()}\ndav: radicale\n`);
    const r = await dnsInProcess(p.dir);
    assert.equal(r.code, 0, r.err);
    for (const label of ['_caldavs', '_carddavs']) {
      // In the zone example.com, names are relative to it.
      assert.match(r.out, new RegExp(`^  ${label}\\._tcp +SRV +0 1 443 mail\\.example\\.com\\.$`, 'm'));
      assert.match(r.out, new RegExp(`^  ${label}\\._tcp +TXT +path=/dav/$`, 'm'));
    }
    assert.match(r.out, /Calendar \(CalDAV\) clients find the server on mail\.example\.com:443/);
  });
});
