// Comparing expected records with what DNS holds (check) and deciding what to change (push), with an
// injected resolver; TSIG key files; the dns command end to end on an injected project.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run, runCheck } from '../../src/cli/dns.js';
import { checkExitCode, checkRecords } from '../../src/dns/check.js';
import { canonicalValue, compareGroup, type Status } from '../../src/dns/compare.js';
import { buildRecords } from '../../src/dns/records.js';
import type { DnsResolver, LookupResult } from '../../src/dns/resolver.js';
import { parseTsigKeyFile, sign } from '../../src/dns/tsig.js';
import type { DnsRecord, RecordType } from '../../src/dns/types.js';
import { planChange } from '../../src/dns/update.js';
import { oneDomainCase } from '../support/dns-cases.js';

const rec = (type: RecordType, value: string, name = 'example.com'): DnsRecord => ({
  zone: 'example.com',
  name,
  type,
  ttl: 3600,
  value,
  purpose: 'test',
  required: true,
});
const found = (...values: string[]): LookupResult => ({ status: values.length ? 'found' : 'nodata', records: values.map((value) => ({ value, ttl: 3600 })) });
const TXT_OTHER = 'google-site-verification=abc';

describe('compareGroup', () => {
  const cases: Array<[string, DnsRecord[], LookupResult, Status[], string[][]?]> = [
    ['MX as expected', [rec('MX', '10 mail.example.com.')], found('10 MAIL.example.com.'), ['ok']],
    ['MX missing', [rec('MX', '10 mail.example.com.')], found(), ['missing']],
    ['MX missing, name does not exist', [rec('MX', '10 mail.example.com.')], { status: 'nxdomain', records: [] }, ['missing']],
    ['wrong MX', [rec('MX', '10 mail.example.com.')], found('10 mx.other.net.'), ['different'], [['10 mx.other.net.']]],
    ['an extra MX', [rec('MX', '10 mail.example.com.')], found('10 mail.example.com.', '20 backup.example.net.'), ['conflicting'], [['20 backup.example.net.']]],
    ['SPF among other TXT records', [rec('TXT', 'v=spf1 mx -all')], found(TXT_OTHER, 'v=spf1 mx -all'), ['ok']],
    ['two SPF records', [rec('TXT', 'v=spf1 mx -all')], found('v=spf1 mx -all', 'v=spf1 a -all'), ['conflicting']],
    ['SPF different, other TXT ignored', [rec('TXT', 'v=spf1 mx -all')], found(TXT_OTHER, 'v=spf1 a ~all'), ['different'], [['v=spf1 a ~all']]],
    ['only other TXT records: SPF missing', [rec('TXT', 'v=spf1 mx -all')], found(TXT_OTHER), ['missing']],
    ['DKIM with other spacing', [rec('TXT', 'v=DKIM1; k=ed25519; p=abc')], found('v=DKIM1;k=ed25519; p=abc'), ['ok']],
    ['DKIM key changed', [rec('TXT', 'v=DKIM1; k=ed25519; p=abc')], found('v=DKIM1; k=ed25519; p=old'), ['different']],
    [
      'stale TLSA: the current key replaced by an old one',
      [rec('TLSA', '3 1 1 aa'), rec('TLSA', '3 1 1 bb')],
      found('3 1 1 CC', '3 1 1 BB'),
      ['different', 'ok'],
      [['3 1 1 CC'], ['3 1 1 bb']],
    ],
    ['next TLSA not yet published', [rec('TLSA', '3 1 1 aa'), rec('TLSA', '3 1 1 bb')], found('3 1 1 aa'), ['ok', 'missing']],
    ['CAA alongside another CA', [rec('CAA', '0 issue "letsencrypt.org"')], found('0 issue "letsencrypt.org"', '0 issue "pki.goog"'), ['ok']],
    ['CAA naming only another CA', [rec('CAA', '0 issue "letsencrypt.org"')], found('0 issue "pki.goog"'), ['different']],
    ['AAAA written differently', [rec('AAAA', '2001:db8::10')], found('2001:0db8:0:0:0:0:0:10'), ['ok']],
    ['lookup failure', [rec('A', '203.0.113.10')], { status: 'error', records: [], error: 'SERVFAIL' }, ['error']],
  ];
  for (const [title, expected, result, statuses, foundValues] of cases) {
    it(title, () => {
      const findings = compareGroup(expected, result);
      assert.deepEqual(findings.map((f) => f.status), statuses);
      if (foundValues) assert.deepEqual(findings.map((f) => f.found), foundValues);
    });
  }
  it('canonical values ignore case of names and hex, not of TXT text', () => {
    assert.equal(canonicalValue('MX', '10 Mail.Example.com'), '10 mail.example.com.');
    assert.equal(canonicalValue('TLSA', '3 1 1 ABCD'), '3 1 1 abcd');
    assert.notEqual(canonicalValue('TXT', 'v=DKIM1; p=AbC'), canonicalValue('TXT', 'v=DKIM1; p=abc'));
  });
});

describe('planChange (push)', () => {
  const cases: Array<[string, DnsRecord[], LookupResult, string | undefined]> = [
    ['nothing to do', [rec('MX', '10 mail.example.com.')], found('10 mail.example.com.'), undefined],
    ['create', [rec('MX', '10 mail.example.com.')], found(), 'replace + 10 mail.example.com.'],
    ['replace a wrong MX set', [rec('MX', '10 mail.example.com.')], found('10 mail.example.com.', '20 b.example.net.'), 'replace + 10 mail.example.com.'],
    ['TTL change', [rec('A', '203.0.113.10')], { status: 'found', records: [{ value: '203.0.113.10', ttl: 60 }] }, 'replace + 203.0.113.10'],
    ['SPF next to other TXT: remove the stale one only', [rec('TXT', 'v=spf1 mx -all')], found(TXT_OTHER, 'v=spf1 a -all'), 'remove v=spf1 a -all + v=spf1 mx -all'],
    ['SPF already there beside other TXT', [rec('TXT', 'v=spf1 mx -all')], found(TXT_OTHER, 'v=spf1 mx -all'), undefined],
    ['CAA is only ever added', [rec('CAA', '0 issue "letsencrypt.org"')], found('0 issue "pki.goog"'), 'add + 0 issue "letsencrypt.org"'],
  ];
  for (const [title, expected, result, summary] of cases) {
    it(title, () => {
      const c = planChange(expected, result);
      const text =
        c === undefined
          ? undefined
          : `${c.replaceRRset ? 'replace' : c.remove.length ? `remove ${c.remove.map((f) => f.value).join(',')}` : 'add'} ${c.add.map((r) => `+ ${r.value}`).join(' ')}`;
      assert.equal(text, summary);
    });
  }
  it('refuses to plan on a failed lookup', () => {
    assert.throws(() => planChange([rec('A', '203.0.113.10')], { status: 'error', records: [], error: 'REFUSED' }), /REFUSED/);
  });
});

describe('TSIG', () => {
  const secret = Buffer.alloc(32, 7).toString('base64');
  const formats: Array<[string, string]> = [
    ['BIND', `key "mailrig." {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`],
    ['Knot', `key:\n  - id: mailrig\n    algorithm: hmac-sha256\n    secret: ${secret}\n`],
    ['kdig -y', `hmac-sha256:mailrig:${secret}\n`],
    ['bare secret', `${secret}\n`],
  ];
  for (const [title, text] of formats) {
    it(`reads a ${title} key file`, () => assert.deepEqual(parseTsigKeyFile(text, 'mailrig', 'k').secret, Buffer.alloc(32, 7)));
  }
  it('refuses another algorithm or another key name', () => {
    assert.throws(() => parseTsigKeyFile(`hmac-md5:mailrig:${secret}`, 'mailrig', 'k'), /hmac-md5/);
    assert.throws(() => parseTsigKeyFile(`hmac-sha256:other:${secret}`, 'mailrig', 'k'), /other/);
  });
  it('appends one TSIG record and counts it', () => {
    const message = Buffer.alloc(12);
    const { signed, mac } = sign(message, { name: 'mailrig', secret: Buffer.alloc(32, 7) }, 1_700_000_000);
    assert.equal(signed.readUInt16BE(10), 1);
    assert.equal(mac.length, 32);
  });
});

describe('checkRecords with an injected resolver', () => {
  const c = oneDomainCase();
  const records = buildRecords(c.config, c.pub);
  /** DNS exactly as expected, except what `edit` changes. */
  const fake = (edit: (name: string, type: RecordType, values: string[]) => string[] = (_n, _t, v) => v): DnsResolver => ({
    description: 'fake',
    async lookup(name, type) {
      const values = edit(name, type, records.filter((r) => r.name === name && r.type === type).map((r) => r.value));
      return found(...values);
    },
  });
  it('reports ok for every record and exits 0', async () => {
    const findings = await checkRecords(records, fake());
    assert.equal(findings.length, records.length);
    assert.ok(findings.every((f) => f.status === 'ok'));
    assert.equal(checkExitCode(findings), 0);
  });
  it('exits 1 when a required record is missing, 0 when only an optional one is', async () => {
    const noDkim = await checkRecords(records, fake((n, _t, v) => (n.includes('._domainkey.') ? [] : v)));
    assert.equal(noDkim.filter((f) => f.status === 'missing').length, 2);
    assert.equal(checkExitCode(noDkim), 1);
    const noSrv = await checkRecords(records, fake((_n, t, v) => (t === 'SRV' ? [] : v)));
    assert.equal(checkExitCode(noSrv), 0);
  });
  it('the command prints JSON findings and returns the exit code', async () => {
    let out = '';
    const project = { configPath: '/nonexistent/mailrig.yaml', config: c.config, keys: c.keys };
    const io = { out: (t: string) => (out += t), columns: 100, interactive: false, confirm: async () => false, project };
    const code = await runCheck(
      { config: 'unused', check: true, json: true },
      { ...io, resolver: fake((n, t, v) => (t === 'PTR' ? [] : v)) },
    );
    assert.equal(code, 1);
    const rows = JSON.parse(out) as Array<{ type: string; status: string }>;
    assert.deepEqual(rows.filter((r) => r.status !== 'ok').map((r) => r.type), ['PTR']);
    out = '';
    assert.equal(await run({ config: 'unused', format: 'json', domain: 'example.com' }, io), 0);
    assert.ok((JSON.parse(out) as unknown[]).length > 10);
    await assert.rejects(run({ config: 'unused', domain: 'nope.example' }, io), /not one of the zones/);
    await assert.rejects(run({ config: 'unused', zone: 'example.com', format: 'json' }, io), /--format bind/);
  });
});

describe('dns --check report: names as written', () => {
  it('shows an IDN owner name in Unicode, and the punycode under a record that is not ok', async () => {
    const { formatFindings } = await import('../../src/dns/check.js');
    const record = { ...rec('MX', '10 mail.example.com.', 'xn--bcher-kva.test'), zone: 'xn--bcher-kva.test' };
    const text = formatFindings([{ record, status: 'missing', found: [], detail: 'no record' }], '192.0.2.53');
    assert.match(text, /MISSING\s+MX\s+bücher\.test\s+no record/);
    assert.match(text, /name in DNS: xn--bcher-kva\.test/);
  });
});
