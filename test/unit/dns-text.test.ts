// Zone-file text: TXT splitting and escaping, relative and reverse names, the BIND output's shape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindLine, formatBindLines, formatZoneFile, mailToRname } from '../../src/dns/bind.js';
import { addressOfReverse, expandIPv6, isInZone, parentZone, relativeName, reverseName, zoneFinder, zoneOf } from '../../src/dns/names.js';
import { buildRecords } from '../../src/dns/records.js';
import { parseTxtRdata, quoteTxtString, splitTxt, txtRdata } from '../../src/dns/txt.js';
import { formatJson } from '../../src/dns/json.js';
import { threeDomainCase } from '../support/dns-cases.js';

describe('TXT strings', () => {
  const splits: Array<[string, number, number[]]> = [
    ['empty', 0, [0]],
    ['one byte', 1, [1]],
    ['exactly 255', 255, [255]],
    ['256', 256, [255, 1]],
    ['510', 510, [255, 255]],
    ['DKIM RSA-2048 size', 410, [255, 155]],
  ];
  for (const [title, n, lengths] of splits) {
    it(`splits ${title} into strings of at most 255 bytes`, () => {
      const parts = splitTxt('x'.repeat(n));
      assert.deepEqual(parts.map((p) => Buffer.byteLength(p)), lengths);
      assert.equal(parts.join(''), 'x'.repeat(n));
    });
  }
  it('never splits inside a UTF-8 character', () => {
    const text = `${'a'.repeat(254)}ü${'b'.repeat(10)}`;
    const parts = splitTxt(text);
    assert.deepEqual(parts.map((p) => Buffer.byteLength(p)), [254, 12]);
    assert.equal(parts.join(''), text);
  });
  const quotes: Array<[string, string]> = [
    ['v=spf1 mx -all', '"v=spf1 mx -all"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['semi;colon', '"semi;colon"'],
    ['tab\there', '"tab\\009here"'],
    ['ü', '"\\195\\188"'],
  ];
  for (const [text, quoted] of quotes) {
    it(`quotes ${JSON.stringify(text)} as ${quoted}, and parses it back`, () => {
      assert.equal(quoteTxtString(text), quoted);
      assert.equal(parseTxtRdata(quoted), text);
    });
  }
  it('joins split strings back when parsing kdig-style output', () => {
    const text = `v=DKIM1; k=rsa; p=${'A'.repeat(400)}`;
    assert.equal(parseTxtRdata(txtRdata(text)), text);
    assert.equal(txtRdata(text).split('" "').length, 2);
  });
});

describe('names', () => {
  const relative: Array<[string, string, string]> = [
    ['example.com', 'example.com', '@'],
    ['_dmarc.example.com', 'example.com', '_dmarc'],
    ['_25._tcp.mail.example.com', 'example.com', '_25._tcp.mail'],
    ['MAIL.Example.COM.', 'example.com', 'mail'],
    ['a.xn--bcher-kva.example', 'xn--bcher-kva.example', 'a'],
  ];
  for (const [name, zone, rel] of relative) it(`${name} in ${zone} is ${rel}`, () => assert.equal(relativeName(name, zone), rel));
  it('refuses a name outside the zone (notexample.com is not in example.com)', () => {
    assert.throws(() => relativeName('notexample.com', 'example.com'));
  });
  it('picks the longest zone a name falls in, else none', () => {
    assert.equal(zoneOf('a.sub.example.com', ['example.com', 'sub.example.com']), 'sub.example.com');
    assert.equal(zoneOf('mail.other.net', ['example.com']), undefined);
    assert.equal(parentZone('mx1.hoster.example'), 'hoster.example');
    assert.equal(parentZone('mailhost.example'), 'mailhost.example');
  });
  it('finds zones by lookup as a scan of every zone would, case and trailing dots aside', () => {
    const zones = ['example.com', 'Sub.Example.com', 'xn--bcher-kva.example', 'com.example', 'notexample.com'];
    const find = zoneFinder(zones);
    const names = [
      'example.com', 'EXAMPLE.COM.', 'mail.example.com', 'a.sub.example.com', 'sub.example.com', 'b.a.SUB.example.com.',
      'notexample.com', 'x.notexample.com', 'tamplexample.com', 'com', 'example', 'com.example', 'a.com.example',
      '_dmarc.xn--bcher-kva.example', 'other.net', '',
    ];
    for (const name of names) {
      const scanned = zones.filter((z) => isInZone(name, z)).sort((a, b) => b.length - a.length)[0];
      assert.equal(find(name), scanned, name);
      assert.equal(zoneOf(name, zones), scanned, name);
    }
    assert.equal(find('a.sub.example.com'), 'Sub.Example.com', 'the zone as it was given');
  });
  it('finds the zone of a name among 10,000 zones', () => {
    const zones = Array.from({ length: 10_000 }, (_, i) => `d${i}.example`);
    const find = zoneFinder(zones);
    assert.equal(find('_dmarc.d9999.example'), 'd9999.example');
    assert.equal(find('mta-sts.d0.example'), 'd0.example');
    assert.equal(find('d10000.example'), undefined);
  });
  const reverse: Array<[string, string]> = [
    ['203.0.113.10', '10.113.0.203.in-addr.arpa'],
    ['2001:db8::10', '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['2001:db8:0:1::25', '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ];
  for (const [ip, name] of reverse) {
    it(`reverse name of ${ip}`, () => {
      assert.equal(reverseName(ip), name);
      assert.equal(addressOfReverse(name), ip);
    });
  }
  it('expands IPv6 with an embedded IPv4 tail', () => {
    assert.equal(expandIPv6('::ffff:192.0.2.1'), '0000:0000:0000:0000:0000:ffff:c000:0201');
  });
  it('writes the SOA mailbox with dots in the local part escaped', () => {
    assert.equal(mailToRname('host.master@example.com'), 'host\\.master.example.com.');
  });
});

describe('BIND and JSON output', () => {
  const c = threeDomainCase();
  const records = buildRecords(c.config, c.pub);
  it('writes names relative to each zone under its $ORIGIN and leaves PTR as a comment', () => {
    const text = formatBindLines(records);
    assert.match(text, /^\$ORIGIN example\.com\.$/m);
    assert.match(text, /^\$ORIGIN xn--bcher-kva\.example\.$/m);
    assert.match(text, /^_dmarc\s+3600 IN TXT\s+"v=DMARC1; p=quarantine; rua=mailto:admin@example\.com"$/m);
    assert.doesNotMatch(text, /^[^;].*\bPTR\b/m);
    assert.match(text, /^; 10\.113\.0\.203\.in-addr\.arpa\. PTR mail\.example\.com\.$/m);
  });
  it('splits the RSA DKIM TXT into quoted strings of at most 255 characters', () => {
    const dkim = records.find((r) => r.value.includes('k=rsa'));
    assert.ok(dkim);
    const line = bindLine(dkim, 'example.com');
    const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
    assert.equal(strings.length, 2);
    assert.ok(strings.every((s) => s.length <= 255));
    assert.equal(strings.join(''), dkim.value);
  });
  it('marks the SOA/NS placeholders, or uses the name servers given', () => {
    const placeholder = formatZoneFile(records, 'example.net', { hostmaster: 'admin@example.com', serial: 1 });
    assert.match(placeholder, /PLACEHOLDER/);
    assert.match(placeholder, /^@ IN NS ns1\.replace-me\.invalid\. ; PLACEHOLDER$/m);
    const real = formatZoneFile(records, 'example.net', { nameServers: ['ns1.example.org', 'ns2.example.org'], hostmaster: 'admin@example.com', serial: 7 });
    assert.doesNotMatch(real, /PLACEHOLDER|replace-me/);
    assert.match(real, /^@ IN SOA ns1\.example\.org\. admin\.example\.com\. \($/m);
    assert.match(real, /^@ IN NS ns2\.example\.org\.$/m);
  });
  it('JSON is the documented array with keys in a fixed order', () => {
    const rows = JSON.parse(formatJson(records)) as Array<Record<string, unknown>>;
    assert.equal(rows.length, records.length);
    for (const row of rows) assert.deepEqual(Object.keys(row), ['zone', 'name', 'type', 'ttl', 'value', 'purpose', 'required']);
  });
});
