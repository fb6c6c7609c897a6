// DNS checks on injected resolvers: records (the dns --check compare), PTR, DNSSEC, SPF lookup
// counting, DMARC policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDmarc } from '../../src/check/dns/dmarc.js';
import { judgeDnssec } from '../../src/check/dns/dnssec.js';
import { checkPtr } from '../../src/check/dns/ptr.js';
import { records as recordsCheck, recordLabel } from '../../src/check/dns/records.js';
import { countSpfLookups, judgeSpf } from '../../src/check/dns/spf.js';
import { buildRecords } from '../../src/dns/records.js';
import { publicKeys } from '../../src/keys/store.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';
import { tableResolver, testEnv, type Answer } from '../support/check-env.js';

const config = oneDomainConfig();
const all = buildRecords(config, publicKeys(fixtureKeys(['example.com'])));

/** A table holding exactly the records mailrig wants published (PTR included). */
function publishedTable(): Record<string, Answer> {
  const t: Record<string, string[]> = {};
  for (const r of all) (t[`${r.name} ${r.type}`] ??= []).push(r.value);
  return t;
}

describe('check: DNS records', () => {
  it('one ok line per zone when everything is published', async () => {
    const rs = await recordsCheck.run(testEnv({ config, records: all, resolver: tableResolver(publishedTable()) }));
    assert.deepEqual(rs.map((r) => [r.id, r.status]), [['dns.zone.example.com', 'ok']]);
    assert.match(rs[0]?.message ?? '', /^all \d+ published as expected$/);
  });

  it('a missing DKIM record fails with the record to publish as its fix', async () => {
    const t = publishedTable();
    const dkim = all.filter((r) => r.name.includes('._domainkey.'));
    assert.equal(dkim.length, 2);
    for (const r of dkim) delete t[`${r.name} TXT`];
    const rs = await recordsCheck.run(testEnv({ config, records: all, resolver: tableResolver(t) }));
    const failing = rs.filter((r) => r.status === 'fail');
    assert.deepEqual(failing.map((r) => r.subject).sort(), dkim.map((r) => `DKIM ${r.name}`).sort());
    for (const f of failing.filter((r) => r.id.startsWith('dns.record.'))) {
      assert.match(f.message, /not published/);
      assert.match(f.fix ?? '', /^publish .*\._domainkey\.example\.com\. TXT v=DKIM1; k=(rsa|ed25519); p=.*mailrig dns --domain example\.com/);
    }
    assert.equal(rs.find((r) => r.id === 'dns.zone.example.com'), undefined, 'no zone line repeating the failures');
  });

  it('a missing optional record only warns', async () => {
    const t = publishedTable();
    delete t['autoconfig.example.com CNAME'];
    const rs = await recordsCheck.run(testEnv({ config, records: all, resolver: tableResolver(t) }));
    assert.equal(rs.find((r) => r.id === 'dns.record.CNAME.autoconfig.example.com')?.status, 'warn');
    assert.equal(rs.find((r) => r.id === 'dns.zone.example.com')?.status, 'ok');
  });

  it('labels TXT records by what they are', () => {
    assert.deepEqual(
      ['v=spf1 mx -all', 'v=DKIM1; k=rsa; p=x', 'v=DMARC1; p=reject', 'v=STSv1; id=1', 'v=TLSRPTv1; rua=mailto:a@b', 'hello'].map((value) => recordLabel({ type: 'TXT', value })),
      ['SPF', 'DKIM', 'DMARC', 'MTA-STS', 'TLS-RPT', 'TXT'],
    );
  });
});

describe('check: PTR', () => {
  const rev4 = '10.113.0.203.in-addr.arpa PTR';
  it('ok when the PTR names the host and the host resolves back', async () => {
    const r = await checkPtr('203.0.113.10', 'mail.example.com', tableResolver({ [rev4]: ['mail.example.com.'], 'mail.example.com A': ['203.0.113.10'] }));
    assert.equal(r.status, 'ok');
  });
  it('fails with the provider fix when the PTR is the provider default', async () => {
    const r = await checkPtr('203.0.113.10', 'mail.example.com', tableResolver({ [rev4]: ['static-10.vps.example.net.'] }));
    assert.equal(r.status, 'fail');
    assert.match(r.message, /points to static-10\.vps\.example\.net, not mail\.example\.com/);
    assert.match(r.fix ?? '', /hosting provider/);
  });
  it('fails when there is no PTR, and when the name does not resolve back', async () => {
    assert.equal((await checkPtr('203.0.113.10', 'mail.example.com', tableResolver({}))).message, 'no reverse DNS');
    const r = await checkPtr('203.0.113.10', 'mail.example.com', tableResolver({ [rev4]: ['mail.example.com.'], 'mail.example.com A': ['203.0.113.99'] }));
    assert.equal(r.status, 'fail');
    assert.match(r.message, /does not resolve back/);
  });
  it('IPv6: nibble name and AAAA back, compared canonically', async () => {
    const name = '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR';
    const r = await checkPtr('2001:db8::10', 'mail.example.com', tableResolver({ [name]: ['mail.example.com.'], 'mail.example.com AAAA': ['2001:0db8:0:0::10'] }));
    assert.equal(r.status, 'ok', r.message);
  });
  it('a lookup error is "could not check", not a failure', async () => {
    const r = await checkPtr('203.0.113.10', 'mail.example.com', tableResolver({ [rev4]: { error: 'SERVFAIL' } }));
    assert.equal(r.status, 'warn');
    assert.equal(r.unknown, true);
  });
});

describe('check: PTR is re-checked before it is reported broken', () => {
  type Answer = Parameters<typeof tableResolver>[0][string];
  /** Answers by name, one per lookup in turn (the last one repeats). */
  function turns(table: Record<string, Answer[]>) {
    const seen = new Map<string, number>();
    const asked: string[] = [];
    return {
      description: 'test turns',
      asked,
      async lookup(name: string, type: 'PTR' | 'A' | 'AAAA') {
        const key = `${name.toLowerCase()} ${type}`;
        asked.push(key);
        const n = seen.get(key) ?? 0;
        seen.set(key, n + 1);
        const list = table[key] ?? ['nxdomain'];
        return tableResolver({ [key]: list[Math.min(n, list.length - 1)] as Answer }).lookup(name, type);
      },
    };
  }
  const v4 = { ip: '203.0.113.10', rev: '10.113.0.203.in-addr.arpa PTR', fwd: 'mail.example.com A', addr: '203.0.113.10' };
  const v6 = {
    ip: '2001:db8::10',
    rev: '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR',
    fwd: 'mail.example.com AAAA',
    addr: '2001:db8::10',
  };
  const good = ['mail.example.com.'];
  // [what, reverse answers in turn, forward answers in turn (the address or another), verdict, message, lookups of the PTR]
  const rows: Array<[string, Answer[], Array<'self' | 'other' | Answer>, string, RegExp, number]> = [
    ['fine at once: asked once', [good], ['self'], 'ok', /resolves back/, 1],
    ['no PTR, twice: fail', ['nxdomain', 'nxdomain'], [], 'fail', /^no reverse DNS$/, 2],
    ['provider default, twice: fail', [['static.vps.example.net.']], [], 'fail', /points to static\.vps\.example\.net/, 2],
    ['no PTR, then fine: could not check', ['nxdomain', good], ['self'], 'unknown', /two lookups disagree: the first found no reverse DNS, the second fine/, 2],
    ['wrong name, then SERVFAIL: could not check', [['static.vps.example.net.'], { error: 'SERVFAIL' }], [], 'unknown', /the second .*SERVFAIL/, 2],
    ['not back to the address, then back: could not check', [good], ['other', 'self'], 'unknown', /first found mail\.example\.com does not resolve back/, 2],
    ['not back to the address, twice: fail', [good], ['other', 'other'], 'fail', /does not resolve back/, 2],
    ['a lookup error at once: could not check, not asked again', [{ error: 'SERVFAIL' }], [], 'unknown', /SERVFAIL/, 1],
  ];
  for (const family of [v4, v6]) {
    for (const [what, reverse, forward, expected, says, ptrLookups] of rows) {
      it(`${family === v4 ? 'IPv4' : 'IPv6'}: ${what}`, async () => {
        const other = family === v4 ? '198.51.100.7' : '2001:db8::99';
        const resolver = turns({
          [family.rev]: reverse,
          [family.fwd]: forward.map((f) => (f === 'self' ? [family.addr] : f === 'other' ? [other] : f)),
        });
        const r = await checkPtr(family.ip, 'mail.example.com', resolver);
        assert.equal(r.unknown ? 'unknown' : r.status, expected, r.message);
        assert.match(r.message, says);
        assert.equal(resolver.asked.filter((a) => a === family.rev).length, ptrLookups);
      });
    }
  }
});

describe('check: DNSSEC', () => {
  it('unsigned warns that TLSA does not count', () => {
    const r = judgeDnssec('example.com', { dnskey: false, ds: false, validated: false, error: undefined }, true);
    assert.equal(r.status, 'warn');
    assert.match(r.message, /unsigned: senders ignore its TLSA record/);
  });
  it('validated (AD) and signed-with-DS are ok; no DS warns', () => {
    assert.equal(judgeDnssec('example.com', { dnskey: true, ds: true, validated: true, error: undefined }, true).status, 'ok');
    assert.equal(judgeDnssec('example.com', { dnskey: true, ds: true, validated: false, error: undefined }, true).status, 'ok');
    const noDs = judgeDnssec('example.com', { dnskey: true, ds: false, validated: false, error: undefined }, true);
    assert.equal(noDs.status, 'warn');
    assert.match(noDs.fix ?? '', /registrar/);
  });
});

describe('check: SPF lookups', () => {
  it('counts mechanisms that cost a lookup, through include and redirect', async () => {
    const resolver = tableResolver({
      'example.com TXT': ['v=spf1 mx a include:_spf.provider.example ~all', 'google-site-verification=x'],
      '_spf.provider.example TXT': ['v=spf1 ip4:192.0.2.0/24 include:_a.provider.example redirect=_b.provider.example'],
      '_a.provider.example TXT': ['v=spf1 exists:%{i}.x.provider.example -all'],
      '_b.provider.example TXT': ['v=spf1 ptr -all'],
    });
    const c = await countSpfLookups('example.com', resolver);
    // mx, a, include(1) → [include(1) → exists(1)], redirect(1) → ptr(1)
    assert.deepEqual(c, { lookups: 7, problems: [] });
    assert.equal(judgeSpf('example.com', c).status, 'ok');
  });
  it('more than 10 fails', async () => {
    const t: Record<string, Answer> = { 'example.com TXT': [`v=spf1 ${Array.from({ length: 6 }, (_, i) => `include:s${i}.example`).join(' ')} -all`] };
    for (let i = 0; i < 6; i++) t[`s${i}.example TXT`] = ['v=spf1 a -all'];
    const c = await countSpfLookups('example.com', tableResolver(t));
    assert.equal(c.lookups, 12);
    const r = judgeSpf('example.com', c);
    assert.equal(r.status, 'fail');
    assert.match(r.message, /12 DNS lookups, more than the 10 allowed/);
  });
  it('include loops and missing includes are reported, not followed forever', async () => {
    const c = await countSpfLookups('example.com', tableResolver({ 'example.com TXT': ['v=spf1 include:a.example include:gone.example -all'], 'a.example TXT': ['v=spf1 include:example.com'] }));
    assert.deepEqual(c.problems, ['loop through example.com', 'gone.example: no SPF record']);
    assert.equal(judgeSpf('example.com', c).unknown, true);
  });
});

describe('check: DMARC policy', () => {
  const ask = (v: string) => checkDmarc('example.com', tableResolver({ '_dmarc.example.com TXT': [v] }));
  it('quarantine and reject are ok; none warns with the config key to change', async () => {
    assert.equal((await ask('v=DMARC1; p=quarantine; rua=mailto:a@example.com'))[0]?.status, 'ok');
    assert.equal((await ask('v=DMARC1;p=reject'))[0]?.status, 'ok');
    const none = (await ask('v=DMARC1; p=none; rua=mailto:a@example.com'))[0];
    assert.equal(none?.status, 'warn');
    assert.match(none?.fix ?? '', /domains\.example\.com\.dmarc\.policy: quarantine/);
  });
  it('a missing record is left to the records check', async () => {
    assert.deepEqual(await checkDmarc('example.com', tableResolver({})), []);
  });
});
