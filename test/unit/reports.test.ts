// mailrig reports, without a host: real-format DMARC aggregate reports (Google's and Microsoft's
// shape; plain, gzip and zip) and a TLS report are parsed and summed up per domain; hostile
// attachments — malformed, oversized, zip and gzip bombs, XML entity expansion — are skipped with a
// warning that names the message, and cost at most the decompression cap.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { formatSummary, parseSince, runReports, type ReportsIo } from '../../src/cli/reports.js';
import { UsageError } from '../../src/errors.js';
import { parseAggregate } from '../../src/reports/dmarc.js';
import { deliveredTo, hostScript, parseHostListing, readMessages, reportAddresses, type FetchedMessage } from '../../src/reports/collect.js';
import { parseMessage } from '../../src/reports/mime.js';
import { summarize } from '../../src/reports/summary.js';
import { parseTlsReport } from '../../src/reports/tlsrpt.js';
import { LIMITS, unpack, UnpackError } from '../../src/reports/unpack.js';
import { parseXml } from '../../src/reports/xml.js';
import { configFrom, TEST_HASH } from '../support/fixtures.js';
import { fixtureProject } from '../support/project.js';
import { aggregateMail, fixture, GOOGLE_XML, gz, makeZip, OUTLOOK_XML, TLS_JSON, tlsReportMail, zeros } from '../support/reports.js';

const MB = 1024 * 1024;
const msg = (name: string, text: string): FetchedMessage => ({ mailbox: 'alice@example.com', path: `/var/vmail/example.com/alice/Maildir/cur/${name}`, data: Buffer.from(text) });
const googleMail = (id = 'google-1') =>
  aggregateMail({
    from: 'noreply-dmarc-support@google.com',
    to: 'postmaster@example.com',
    subject: 'Report domain: example.com Submitter: google.com Report-ID: 13852946718211340251',
    messageId: `${id}@google.com`,
    attachments: [{ filename: `${GOOGLE_XML.replace('.xml', '.zip')}`, contentType: 'application/zip', data: makeZip([{ name: GOOGLE_XML, data: fixture(GOOGLE_XML) }]) }],
  });
const outlookMail = () =>
  aggregateMail({
    from: 'dmarcreport@microsoft.com',
    to: 'postmaster@example.com',
    subject: 'Report Domain: example.com Submitter: enterprise.protection.outlook.com Report-ID: <4f0a5a8e6c3b4d2f9e1a7b6c5d4e3f21>',
    messageId: 'outlook-1@microsoft.com',
    attachments: [{ filename: `${OUTLOOK_XML}.gz`, contentType: 'application/gzip', data: gz(fixture(OUTLOOK_XML)) }],
  });
const tlsMail = () => tlsReportMail({ from: 'noreply-smtp-tls-reporting@google.com', to: 'postmaster@example.com', domain: 'example.com', messageId: 'tls-1@google.com', json: fixture(TLS_JSON) });
const hostile = (id: string, filename: string, contentType: string, data: Buffer) =>
  msg(id, aggregateMail({ from: 'reports@hostile.example', to: 'postmaster@example.com', subject: `Report Domain: example.com Submitter: hostile.example Report-ID: ${id}`, messageId: `${id}@hostile.example`, attachments: [{ filename, contentType, data }] }));

describe('report formats', () => {
  it("Google's aggregate XML: metadata, policy and every record", () => {
    const r = parseAggregate(fixture(GOOGLE_XML).toString());
    assert.equal(r.orgName, 'google.com');
    assert.equal(r.reportId, '13852946718211340251');
    assert.deepEqual([r.begin, r.end, r.domain, r.policy], [1764547200, 1764633599, 'example.com', 'quarantine']);
    assert.deepEqual(r.records, [
      { sourceIp: '203.0.113.10', count: 12, headerFrom: 'example.com', disposition: 'none', dkim: 'pass', spf: 'pass', dmarc: 'pass', dkimAuth: ['example.com=pass', 'example.com=pass'], spfAuth: ['example.com=pass'] },
      { sourceIp: '198.51.100.77', count: 3, headerFrom: 'example.com', disposition: 'quarantine', dkim: 'fail', spf: 'fail', dmarc: 'fail', dkimAuth: [], spfAuth: ['bulk-sender.example=softfail'] },
    ]);
  });

  it("Microsoft's aggregate XML (namespace attributes, version element, IPv6 source)", () => {
    const r = parseAggregate(fixture(OUTLOOK_XML).toString());
    assert.equal(r.orgName, 'Enterprise Outlook');
    assert.deepEqual(r.records.map((x) => [x.sourceIp, x.count, x.dmarc]), [['203.0.113.10', 5, 'pass'], ['2001:db8:5::25', 1, 'fail']]);
  });

  it('a TLS report: policy domain, session counts and failure details', () => {
    const r = parseTlsReport(fixture(TLS_JSON).toString());
    assert.equal(r.orgName, 'Google Inc.');
    assert.equal(r.begin, Date.parse('2025-12-01T00:00:00Z') / 1000);
    assert.deepEqual(r.policies, [
      { domain: 'example.com', policyType: 'sts', successful: 40, failed: 2, failures: [{ type: 'certificate-expired', sendingMta: '209.85.220.41', receivingMx: 'mail.example.com', count: 2 }] },
    ]);
  });

  it('MIME: quoted-printable and single-part messages, folded headers, encoded subjects', () => {
    const xml = fixture(GOOGLE_XML).toString().replace(/=/g, '=3D');
    const qp = parseMessage(Buffer.from(`Subject: =?UTF-8?B?UmVwb3J0IERvbWFpbjogZXhhbXBsZS5jb20=?=\r\nContent-Type: multipart/mixed;\r\n boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${xml}\r\n--b1--\r\n`));
    assert.equal(qp.parts.length, 1);
    assert.equal(parseAggregate(qp.parts[0]?.body.toString() ?? '').records.length, 2);
    const single = parseMessage(Buffer.from(`Content-Type: application/gzip\nContent-Transfer-Encoding: base64\n\n${gz(fixture(GOOGLE_XML)).toString('base64')}\n`));
    assert.equal(single.parts[0]?.contentType, 'application/gzip');
    const read = readMessages([msg('single', `Subject: report\nContent-Type: application/gzip\nContent-Transfer-Encoding: base64\n\n${gz(fixture(GOOGLE_XML)).toString('base64')}\n`)]);
    assert.deepEqual([read.dmarc.length, read.warnings], [1, []]);
  });
});

describe('reports summed up per domain', () => {
  const read = readMessages([msg('1', googleMail()), msg('2', outlookMail()), msg('3', tlsMail()), msg('4', googleMail('google-again'))]);
  const summary = summarize(read, { since: new Date('2025-12-01T00:00:00Z'), mailboxes: ['alice@example.com'] });

  it('zip, gzip and TLS-RPT attachments are all read, without warnings', () => {
    assert.deepEqual(read.warnings, []);
    assert.deepEqual([read.dmarc.length, read.tls.length], [3, 1]);
  });

  it('DMARC: sources by IP with their results; a report delivered twice counts once', () => {
    const [d] = summary.dmarc;
    assert.equal(summary.dmarc.length, 1);
    assert.deepEqual([d?.domain, d?.reports, d?.messages, d?.passed, d?.failed], ['example.com', 2, 21, 17, 4]);
    assert.deepEqual(
      d?.sources.map((s) => [s.ip, s.count, s.spf, s.dkim, s.dmarc, s.disposition, s.reporters.join('+')]),
      [
        ['203.0.113.10', 17, 'pass', 'pass', 'pass', 'none', 'Enterprise Outlook+google.com'],
        ['198.51.100.77', 3, 'fail', 'fail', 'fail', 'quarantine', 'google.com'],
        ['2001:db8:5::25', 1, 'fail', 'fail', 'fail', 'quarantine', 'Enterprise Outlook'],
      ],
    );
    assert.deepEqual(d?.sources[2]?.spfAuth, ['spoofer.example=none']);
  });

  it('TLS: which senders failed, and why', () => {
    assert.deepEqual(summary.tls, [
      { domain: 'example.com', reports: 1, successful: 40, failed: 2, failures: [{ reporter: 'Google Inc.', type: 'certificate-expired', sendingMta: '209.85.220.41', receivingMx: 'mail.example.com', count: 2 }] },
    ]);
  });

  it('the text form: a table per domain', () => {
    const text = formatSummary(summary);
    assert.match(text, /^DMARC example\.com: 2 reports, 21 messages \(17 passed, 4 failed\)$/m);
    assert.match(text, /^ {2}SOURCE IP +MESSAGES +FROM +SPF +DKIM +DMARC +DISPOSITION +REPORTED BY$/m);
    assert.match(text, /^ {2}203\.0\.113\.10 +17 +example\.com +pass +pass +pass +none +Enterprise Outlook, google\.com$/m);
    assert.match(text, /^TLS example\.com: 1 report, 40 sessions ok, 2 failed$/m);
    assert.match(text, /^ {2}Google Inc\. +certificate-expired +209\.85\.220\.41 +mail\.example\.com +2$/m);
  });

  it('--domain keeps only that domain', () => {
    const other = summarize(read, { since: new Date(0), mailboxes: [], domain: 'example.net' });
    assert.deepEqual([other.dmarc, other.tls], [[], []]);
    assert.match(formatSummary(other), /No DMARC or TLS reports\./);
  });
});

describe('hostile and broken attachments are skipped with a warning naming the message', () => {
  const one = (m: FetchedMessage) => readMessages([m, msg('good', outlookMail())]);
  const check = (m: FetchedMessage, phrase: RegExp) => {
    const r = one(m);
    assert.equal(r.dmarc.length, 1, 'the good report beside it is still read');
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(r.warnings[0] ?? '', /^message "Report Domain: example\.com Submitter: hostile\.example Report-ID: \w+" <\w+@hostile\.example> in alice@example\.com \(\w+\): skipped /);
    assert.match(r.warnings[0] ?? '', phrase);
  };

  it('malformed XML, truncated gzip, JSON that is no report, text that is neither', () => {
    check(hostile('bad1', 'r.xml', 'text/xml', Buffer.from('<feedback><report_metadata></feedback>')), /r\.xml: end tag <\/feedback> does not match <report_metadata>/);
    check(hostile('bad2', 'r.xml.gz', 'application/gzip', gz(fixture(GOOGLE_XML)).subarray(0, 100)), /r\.xml\.gz is not valid compressed data/);
    check(hostile('bad3', 'r.json', 'application/tlsrpt+json', Buffer.from('{"hello": 1}')), /not a TLS report/);
    check(hostile('bad4', 'r.xml', 'application/octet-stream', Buffer.from('MZ\x90\x00binary')), /neither XML nor JSON/);
    check(hostile('bad5', 'r.xml', 'text/xml', Buffer.from('<other/>')), /root element is <other>/);
  });

  it('an attachment over the size cap is not decoded further', () => {
    check(hostile('big', 'r.xml.gz', 'application/gzip', Buffer.concat([Buffer.from([0x1f, 0x8b]), zeros(LIMITS.attachmentBytes)])), /r\.xml\.gz is 5 MiB, more than the 5 MiB mailrig reads/);
  });

  it('a gzip bomb stops inflating at the cap', () => {
    const bomb = gz(zeros(LIMITS.inflatedBytes + MB));
    assert.ok(bomb.length < 100 * 1024, `${bomb.length} bytes compressed`);
    const before = process.memoryUsage().arrayBuffers;
    check(hostile('gzbomb', 'r.xml.gz', 'application/gzip', bomb), /decompresses to more than 32 MiB \(a zip bomb\?\)/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 4 * LIMITS.inflatedBytes);
  });

  it('a zip bomb: an honest huge size is refused unopened, a lying one stops at the cap', () => {
    const honest = makeZip([{ name: 'r.xml', data: zeros(LIMITS.inflatedBytes + MB) }]);
    check(hostile('zipbomb1', 'r.zip', 'application/zip', honest), /r\.zip:r\.xml decompresses to more than 32 MiB/);
    const lying = makeZip([{ name: 'r.xml', data: zeros(LIMITS.inflatedBytes + MB), claimedSize: 1000 }]);
    check(hostile('zipbomb2', 'r.zip', 'application/zip', lying), /r\.zip:r\.xml decompresses to more than 32 MiB/);
    // Entries that are each under the cap but together over it.
    const many = makeZip([0, 1, 2].map((i) => ({ name: `r${i}.xml`, data: zeros(12 * MB) })));
    check(hostile('zipbomb3', 'r.zip', 'application/zip', many), /r\.zip:r2\.xml decompresses to more than 32 MiB/);
  });

  it('a zip with many entries is refused', () => {
    const zip = makeZip(Array.from({ length: 50 }, (_, i) => ({ name: `r${i}.xml`, data: Buffer.from('<feedback/>') })));
    check(hostile('manyentries', 'r.zip', 'application/zip', zip), /r\.zip is a zip with 50 entries \(more than 8\); not opened/);
  });

  it('XML with a DOCTYPE or entities is refused: no entity expansion, no external entities', () => {
    const laughs = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n<feedback><report_metadata><org_name>&lol3;</org_name></report_metadata><policy_published><domain>example.com</domain></policy_published></feedback>`;
    check(hostile('laughs', 'r.xml', 'text/xml', Buffer.from(laughs)), /has a document type declaration \(DOCTYPE\/ENTITY\); refused/);
    const external = '<?xml version="1.0"?><!DOCTYPE feedback SYSTEM "file:///etc/passwd"><feedback/>';
    check(hostile('xxe', 'r.xml.gz', 'application/gzip', gz(Buffer.from(external))), /DOCTYPE/);
    assert.throws(() => parseXml('<a>&undefined;</a>'), /unknown entity &undefined;/);
    assert.equal(parseXml('<a>x &amp; &#65;&#x42; <![CDATA[<y>]]></a>').text, 'x & AB <y>');
  });

  it('a report-looking message with no attachment at all', () => {
    const r = readMessages([msg('empty', 'Subject: Report Domain: example.com Submitter: x\nMessage-ID: <e@x>\n\nNo attachment.\n')]);
    assert.deepEqual(r.warnings, ['message "Report Domain: example.com Submitter: x" <e@x> in alice@example.com (empty): no report attachment found']);
  });

  it('unpack returns plain text unchanged', () => {
    assert.deepEqual(unpack(Buffer.from('{}'), 'x'), [{ name: 'x', text: '{}' }]);
    assert.throws(() => unpack(Buffer.from('PK\x03\x04 and nothing else'), 'z.zip'), UnpackError);
  });
});

describe('where reports arrive', () => {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
    admin_email: 'postmaster@example.com',
    domains: {
      'example.com': { mailboxes: { alice: { password_hash: TEST_HASH }, relay: { password_hash: TEST_HASH, send_only: true } }, aliases: { postmaster: 'alice', reports: ['alice', 'someone@elsewhere.example'] } },
      'example.net': { dmarc: { policy: 'none', rua: 'reports@example.com' } },
      'example.org': { catch_all: 'alice@example.com' },
      'example.info': { dmarc: { policy: 'none', rua: 'dmarc@reports.elsewhere.example' } },
      'example.biz': { dmarc: { policy: 'none', rua: 'relay@example.com' } },
    },
  });

  it('each published address, resolved through aliases and catch-alls to local mailboxes', () => {
    assert.deepEqual(
      reportAddresses(config).map((a) => [a.address, a.purposes.join(', '), a.mailboxes.join(',')]),
      [
        ['postmaster@example.com', 'DMARC reports of example.com, DMARC reports of example.org, TLS reports', 'alice@example.com'],
        ['reports@example.com', 'DMARC reports of example.net', 'alice@example.com'],
        ['dmarc@reports.elsewhere.example', 'DMARC reports of example.info', ''],
        ['relay@example.com', 'DMARC reports of example.biz', ''],
      ],
    );
    assert.deepEqual(deliveredTo(config, 'anything@example.org'), ['alice@example.com']);
  });

  it('the host script reads Maildirs only, quoted; its output is framed per message', () => {
    const script = hostScript(["o'brien@example.com"], 1764547200, 1000);
    assert.ok(script.endsWith(`\nscan 'o'\\''brien@example.com' '/var/vmail/example.com/o'\\''brien/Maildir'\n`), script);
    assert.match(script, /-newermt "@\$since"/);
    assert.match(script, /^since=1764547200$/m);
    const head = Buffer.from('Subject: big\r\nMessage-ID: <big@x>\r\n\r\nstart');
    const listing = parseHostListing(`X bob@example.com\nB alice@example.com 99999 /var/vmail/example.com/alice/Maildir/cur/big:2,S ${head.toString('base64')}\nM alice@example.com 5 /var/vmail/example.com/alice/Maildir/.Junk Mail/cur/1:2, ${Buffer.from('hello').toString('base64')}\n`);
    assert.deepEqual(listing.empty, ['bob@example.com']);
    assert.deepEqual(listing.oversized, [{ mailbox: 'alice@example.com', path: '/var/vmail/example.com/alice/Maildir/cur/big:2,S', size: 99999, head }]);
    assert.deepEqual(readMessages([], LIMITS, listing.oversized, 2 * MB).warnings, ['message "big" <big@x> in alice@example.com (big:2,S): skipped, 0.1 MiB is more than the 2 MiB mailrig fetches']);
    assert.deepEqual(listing.messages.map((m) => [m.path, m.data.toString()]), [['/var/vmail/example.com/alice/Maildir/.Junk Mail/cur/1:2,', 'hello']]);
  });
});

describe('the host script, run by sh on a Maildir tree here', () => {
  it('prints report-like messages received since the cutoff, in every folder; too large ones by size only', () => {
    const root = mkdtempSync(join(tmpdir(), 'mailrig-reports-'));
    try {
      const maildir = join(root, 'example.com/alice/Maildir');
      const put = (rel: string, text: string, mtime: Date) => {
        mkdirSync(dirname(join(maildir, rel)), { recursive: true });
        writeFileSync(join(maildir, rel), text);
        utimesSync(join(maildir, rel), mtime, mtime);
      };
      const recent = new Date('2025-12-02T00:00:00Z');
      put('new/1.host', googleMail(), recent);
      put('.Junk/cur/2.host:2,S', tlsMail(), recent);
      put('cur/3.host:2,S', 'Subject: lunch?\n\nPlain mail is not fetched.\n', recent);
      put('cur/4.host:2,', outlookMail(), new Date('2025-11-01T00:00:00Z'));
      put('tmp/5.host', googleMail('tmp'), recent);
      put('cur/6.host:2,', `${googleMail('big')}${'x'.repeat(5000)}`, recent);
      const script = hostScript(['alice@example.com', 'bob@example.com'], Date.parse('2025-11-30T00:00:00Z') / 1000, 4000).replaceAll('/var/vmail', root);
      const r = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const listing = parseHostListing(r.stdout);
      assert.deepEqual(listing.empty, ['bob@example.com']);
      assert.deepEqual(listing.oversized.map((o) => [o.path.slice(maildir.length), o.head.toString().slice(0, 80)]), [['/cur/6.host:2,', googleMail('big').slice(0, 80)]]);
      assert.deepEqual(listing.messages.map((m) => m.path.slice(maildir.length)).sort(), ['/.Junk/cur/2.host:2,S', '/new/1.host']);
      const read = readMessages(listing.messages);
      assert.deepEqual([read.dmarc.length, read.tls.length, read.warnings], [1, 1, []]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('mailrig reports (the command, with a stand-in host)', () => {
  const now = new Date('2025-12-03T12:00:00Z');

  it('--since: periods and days; anything else is refused naming the flag', () => {
    assert.equal(parseSince('7d', now).toISOString(), '2025-11-26T12:00:00.000Z');
    assert.equal(parseSince('12h', now).toISOString(), '2025-12-03T00:00:00.000Z');
    assert.equal(parseSince('2w', now).toISOString(), '2025-11-19T12:00:00.000Z');
    assert.equal(parseSince('2025-12-01', now).toISOString(), '2025-12-01T00:00:00.000Z');
    for (const bad of ['7', '0d', 'yesterday', '2025-02-30', '2025-12-04', '99999d', '-1d', '']) {
      assert.throws(() => parseSince(bad, now), (e: Error) => e instanceof UsageError && e.message.startsWith(`--since ${bad}:`), bad);
    }
  });

  const project = () => {
    const p = fixtureProject();
    // The fixture's admin@example.com is no mailbox: make reports go to postmaster, an alias of alice.
    writeFileSync(p.config, p.read().replace('admin_email: admin@example.com', 'admin_email: postmaster@example.com'));
    return p;
  };
  const io = () => {
    const seen = { out: '', warnings: [] as string[] };
    const value: ReportsIo = { out: (t) => (seen.out += t), warn: (t) => seen.warnings.push(t), now: () => now };
    return { seen, io: value };
  };

  it('one host read; --json is the summary, warnings also on stderr', async () => {
    const p = project();
    const { seen, io: stand } = io();
    const scripts: string[] = [];
    const listing = [googleMail(), tlsMail()].map((m, i) => `M alice@example.com ${m.length} /var/vmail/example.com/alice/Maildir/new/${i} ${Buffer.from(m).toString('base64')}`);
    listing.push(`B alice@example.com 99999999 /var/vmail/example.com/alice/Maildir/new/huge ${Buffer.from('Subject: huge\n\n').toString('base64')}`);
    const code = await runReports({ config: p.config, json: true }, stand, async (_project, _opts, script) => {
      scripts.push(script);
      return `${listing.join('\n')}\n`;
    });
    assert.equal(code, 0);
    assert.equal(scripts.length, 1);
    assert.match(scripts[0] ?? '', /^scan alice@example\.com \/var\/vmail\/example\.com\/alice\/Maildir$/m);
    assert.match(scripts[0] ?? '', new RegExp(`^since=${Date.parse('2025-11-26T12:00:00Z') / 1000}$`, 'm'));
    const json = JSON.parse(seen.out) as { since: string; mailboxes: string[]; dmarc: Array<{ domain: string; messages: number }>; tls: Array<{ failed: number }>; warnings: string[] };
    assert.equal(json.since, '2025-11-26T12:00:00.000Z');
    assert.deepEqual(json.mailboxes, ['alice@example.com']);
    assert.deepEqual(json.dmarc.map((d) => [d.domain, d.messages]), [['example.com', 15]]);
    assert.equal(json.tls[0]?.failed, 2);
    assert.equal(json.warnings.length, 1);
    assert.equal(json.warnings[0], 'message "huge" in alice@example.com (huge): skipped, 95.4 MiB is more than the 8 MiB mailrig fetches');
    assert.deepEqual(seen.warnings, json.warnings);
  });

  it('report addresses that no mailbox here receives: a warning each, or exit 2 when none does', async () => {
    const p = fixtureProject();
    const { io: stand } = io();
    await assert.rejects(
      runReports({ config: p.config }, stand, async () => assert.fail('the host is not asked')),
      (e: Error) => e instanceof UsageError && /no report address is delivered to a mailbox on this server \(admin@example\.com\).*admin_email.*dmarc\.rua/.test(e.message),
    );
    await assert.rejects(runReports({ config: p.config, domain: 'nowhere.example' }, stand, async () => ''), /--domain nowhere\.example: not a mail domain of this server/);
    writeFileSync(p.config, p.read().replace('dmarc: { policy: quarantine }    # none', 'dmarc: { policy: quarantine, rua: postmaster@example.com }    # none'));
    const { seen, io: stand2 } = io();
    assert.equal(await runReports({ config: p.config, domain: 'bücher.example' }, stand2, async () => ''), 0);
    assert.deepEqual(seen.warnings, ['admin@example.com (DMARC reports of xn--bcher-kva.example, TLS reports) is not delivered to a mailbox on this server; reports sent there are not read here']);
    assert.match(seen.out, /^Reports received since 2025-11-26 12:00 UTC in alice@example\.com\n\nNo DMARC or TLS reports\.\n$/);
  });
});

