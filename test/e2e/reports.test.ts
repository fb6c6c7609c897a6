// mailrig reports on a provisioned host of each release: DMARC aggregate reports (zip and gzip, in
// Google's and Microsoft's format) and a TLS report arrive over SMTP on port 25 at the published
// rua address (postmaster@, an alias of alice) from a stranger, as receivers send them; `mailrig
// reports` shows their figures as JSON and as tables, and skips a malformed, an oversized and a
// zip-bomb attachment with a warning naming each message. The host starts from the cached image.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { show, type Workspace } from '../support/e2e.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { aggregateMail, fixture, GOOGLE_XML, gz, makeZip, OUTLOOK_XML, TLS_JSON, tlsReportMail, zeros } from '../support/reports.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';
import { LIMITS } from '../../src/reports/unpack.js';

const RUA = `postmaster@${PROVISIONED.domain}`;
/** Where postmaster@ delivers in the image's mailrig.yaml. */
const MAILBOX = PROVISIONED.alice;
const MB = 1024 * 1024;

interface Summary {
  mailboxes: string[];
  dmarc: Array<{ domain: string; reports: number; messages: number; passed: number; failed: number; sources: Array<{ ip: string; count: number; spf: string; dkim: string; dmarc: string; disposition: string; reporters: string[] }> }>;
  tls: Array<{ domain: string; reports: number; successful: number; failed: number; failures: Array<{ reporter: string; type: string; sendingMta: string | null; count: number }> }>;
  warnings: string[];
}

/** The report messages, each with its envelope sender: strangers' domains that publish no DMARC policy. */
function reportMessages(): Array<{ from: string; raw: string }> {
  const aggregate = (from: string, id: string, attachment: { filename: string; contentType: string; data: Buffer }) => ({
    from,
    raw: aggregateMail({ from, to: RUA, subject: `Report Domain: ${PROVISIONED.domain} Submitter: ${from.split('@')[1]} Report-ID: ${id}`, messageId: `${id}@${from.split('@')[1]}`, attachments: [attachment] }),
  });
  return [
    aggregate('noreply-dmarc-support@reporter-g.test', 'google-zip', { filename: GOOGLE_XML.replace(/\.xml$/, '.zip'), contentType: 'application/zip', data: makeZip([{ name: GOOGLE_XML, data: fixture(GOOGLE_XML) }]) }),
    aggregate('dmarcreport@reporter-m.test', 'outlook-gz', { filename: `${OUTLOOK_XML}.gz`, contentType: 'application/gzip', data: gz(fixture(OUTLOOK_XML)) }),
    { from: 'tls-reports@reporter-g.test', raw: tlsReportMail({ from: 'tls-reports@reporter-g.test', to: RUA, domain: PROVISIONED.domain, messageId: 'tls-1@reporter-g.test', json: fixture(TLS_JSON) }) },
    aggregate('reports@broken.test', 'malformed', { filename: 'broken.test!example.com!1!2.xml.gz', contentType: 'application/gzip', data: gz(Buffer.from('<feedback><report_metadata>')) }),
    aggregate('reports@huge.test', 'oversized', { filename: 'huge.test!example.com!1!2.xml.gz', contentType: 'application/gzip', data: Buffer.concat([gz(fixture(GOOGLE_XML)), zeros(LIMITS.attachmentBytes + MB / 4)]) }),
    aggregate('reports@bomb.test', 'zipbomb', { filename: 'bomb.test!example.com!1!2.zip', contentType: 'application/zip', data: makeZip([{ name: 'bomb.xml', data: zeros(LIMITS.inflatedBytes + 8 * MB), claimedSize: 2048 }]) }),
  ];
}

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`mailrig reports on a provisioned ${debian} host`, { timeout: 15 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    /** When the image was there (built or found): the file's own time starts then. */
    let started = Date.now();

    /** Postfix's log from line `from` on: what happened since then. */
    const postfixLog = async (from: number) => (await host.exec(`tail -n +${from} /var/log/postfix.log`)).stdout;
    /** Postfix's own record that `count` messages for the mailbox went to Dovecot and were stored. */
    const delivered = async (from: number, count: number) => {
      const pattern = new RegExp(`to=<${MAILBOX.replace('.', '\\.')}>.*relay=.*dovecot-lmtp.*status=sent`, 'gm');
      for (let i = 0; i < 240; i++) {
        const log = await postfixLog(from);
        if ((log.match(pattern) ?? []).length >= count) return;
        // Refused, bounced or deferred instead: fail at once with what Postfix said.
        assert.doesNotMatch(log, /status=(bounced|deferred)|milter-reject|NOQUEUE: reject/, 'no report was refused or deferred');
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`${count} deliveries to ${MAILBOX} within 2 minutes:\n${await postfixLog(from)}`);
    };

    before(async () => {
      await cleanupStaleTestHosts();
      let ca: string;
      const messages = reportMessages();
      let timings: { bootMs: number; applyMs: number };
      ({ host, ws, ca, timings } = await startProvisionedHost({ release, name: `reports-${release}` }));
      started = Date.now() - timings.bootMs - timings.applyMs;
      // Greylisting off: the reporters are strangers sending once; a real one would retry after 4xx.
      const path = join(ws.dir, 'mailrig.yaml');
      const yaml = readFileSync(path, 'utf8');
      assert.match(yaml, /^ {2}greylisting: true$/m);
      writeFileSync(path, yaml.replace(/^ {2}greylisting: true$/m, '  greylisting: false'));
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      const from = Number((await host.exec('wc -l < /var/log/postfix.log')).stdout.trim()) + 1;

      // One SMTP session on port 25, as a receiver's reporting agent sends: no authentication.
      const transport = nodemailer.createTransport({ host: host.address, port: 25, name: 'reporter.test', tls: { ca, servername: PROVISIONED.servername } });
      try {
        for (const m of messages) await transport.sendMail({ envelope: { from: m.from, to: RUA }, raw: m.raw });
      } finally {
        transport.close();
      }
      await delivered(from, messages.length);
    });
    after(async () => {
      await host?.stop();
      process.stdout.write(`# reports ${debian}: ${Math.round((Date.now() - started) / 1000)} s from booting the image to stopping the host\n`);
    });

    it('--json: the DMARC and TLS figures; malformed, oversized and zip-bomb attachments skipped with a warning each', async () => {
      const r = await ws.mailrig(['reports', '--json', '--since', '1d'], { hostFlags: true });
      assert.equal(r.code, 0, show(r));
      const s = JSON.parse(r.out) as Summary;
      assert.deepEqual(s.mailboxes, [MAILBOX]);
      assert.equal(s.dmarc.length, 1, r.out);
      const d = s.dmarc[0];
      assert.deepEqual([d?.domain, d?.reports, d?.messages, d?.passed, d?.failed], [PROVISIONED.domain, 2, 21, 17, 4]);
      assert.deepEqual(
        d?.sources.map((x) => [x.ip, x.count, x.spf, x.dkim, x.dmarc, x.disposition, x.reporters.join('+')]),
        [
          ['203.0.113.10', 17, 'pass', 'pass', 'pass', 'none', 'Enterprise Outlook+google.com'],
          ['198.51.100.77', 3, 'fail', 'fail', 'fail', 'quarantine', 'google.com'],
          ['2001:db8:5::25', 1, 'fail', 'fail', 'fail', 'quarantine', 'Enterprise Outlook'],
        ],
      );
      assert.deepEqual(s.tls, [
        { domain: PROVISIONED.domain, reports: 1, successful: 40, failed: 2, failures: [{ reporter: 'Google Inc.', type: 'certificate-expired', sendingMta: '209.85.220.41', receivingMx: 'mail.example.com', count: 2 }] },
      ]);
      assert.equal(s.warnings.length, 3, s.warnings.join('\n'));
      const warning = (id: string) => s.warnings.find((w) => w.includes(`<${id}@`)) ?? '';
      assert.match(warning('malformed'), new RegExp(`^message "Report Domain: example\\.com Submitter: broken\\.test Report-ID: malformed" <malformed@broken\\.test> in ${MAILBOX.replace('.', '\\.')} \\(.+\\): skipped .*\\.xml\\.gz: <report_metadata> is not closed$`));
      assert.match(warning('oversized'), /: skipped huge\.test!example\.com!1!2\.xml\.gz: huge\.test!example\.com!1!2\.xml\.gz is 5\.3 MiB, more than the 5 MiB mailrig reads$/);
      assert.match(warning('zipbomb'), /: skipped bomb\.test!example\.com!1!2\.zip: bomb\.test!example\.com!1!2\.zip:bomb\.xml decompresses to more than 32 MiB \(a zip bomb\?\); not read$/);
      // The same warnings on standard error, for people.
      for (const w of s.warnings) assert.ok(r.err.includes(`mailrig: warning: ${w}`), r.err);
    });

    it('the tables, and --domain', async () => {
      const r = await ws.mailrig(['reports'], { hostFlags: true });
      assert.equal(r.code, 0, show(r));
      assert.match(r.out, /^DMARC example\.com: 2 reports, 21 messages \(17 passed, 4 failed\)$/m);
      assert.match(r.out, /^ {2}203\.0\.113\.10 +17 +example\.com +pass +pass +pass +none +Enterprise Outlook, google\.com$/m);
      assert.match(r.out, /^ {2}198\.51\.100\.77 +3 +example\.com +fail +fail +fail +quarantine +google\.com$/m);
      assert.match(r.out, /^TLS example\.com: 1 report, 40 sessions ok, 2 failed$/m);
      assert.match(r.out, /^ {2}Google Inc\. +certificate-expired +209\.85\.220\.41 +mail\.example\.com +2$/m);
      assert.equal((r.err.match(/^mailrig: warning: message /gm) ?? []).length, 3, r.err);
      const unicode = await ws.mailrig(['reports', '--domain', 'EXAMPLE.com', '--json'], { hostFlags: true });
      assert.equal(unicode.code, 0, show(unicode));
      assert.equal((JSON.parse(unicode.out) as Summary).dmarc[0]?.messages, 21);
      // Nothing was moved or changed: the messages are all still there.
      const count = await host.exec(`find /var/vmail/example.com/alice/Maildir -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l`);
      assert.ok(Number(count.stdout.trim()) >= 6, count.stdout);
    });
  });
}
