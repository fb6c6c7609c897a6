// The BIND output is a valid zone for named-checkzone, knotc zone-check and kzonecheck; served by a
// real knotd, every record of the JSON output comes back from kdig; the DKIM records verify a real
// signature (mailauth, resolving through knotd); the TLSA values match the TLS keys (openssl).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { dkimSign, dkimVerify } from 'mailauth';
import { formatZoneFile } from '../../src/dns/bind.js';
import { canonicalValue } from '../../src/dns/compare.js';
import { buildRecords } from '../../src/dns/records.js';
import { parseTxtRdata } from '../../src/dns/txt.js';
import type { DnsRecord } from '../../src/dns/types.js';
import { mailauthResolver } from '../support/dkim.js';
import { allCases, type DnsCase } from '../support/dns-cases.js';
import { knotcZoneCheck, kzonecheck, namedCheckzone, startKnot, type KnotServer } from '../support/knot.js';

const SOA = { nameServers: ['ns1.example.invalid'], hostmaster: 'hostmaster@example.com', serial: 2026011501 };

/** kdig +short lines → the value form DnsRecord uses, compared canonically. */
function fromKdig(type: DnsRecord['type'], line: string): string {
  if (type === 'TXT') return parseTxtRdata(line);
  if (type === 'CAA') return line.replace(/^(\d+) (\S+) (.*)$/, '$1 $2 $3');
  if (type === 'TLSA') {
    const [u, s, m, ...hex] = line.split(/\s+/);
    return `${u} ${s} ${m} ${hex.join('').toLowerCase()}`;
  }
  return line;
}

for (const c of allCases()) {
  describe(`zone output: ${c.name}`, () => {
    const records = buildRecords(c.config, c.pub);
    const zones = c.zones.map((origin) => ({ origin, text: formatZoneFile(records, origin, SOA) }));
    let knot: KnotServer;
    before(async () => {
      knot = await startKnot({ zones });
    });
    after(async () => knot?.stop());

    for (const z of zones) {
      it(`${z.origin} passes named-checkzone, knotc zone-check and kzonecheck`, async () => {
        const named = await namedCheckzone(z.origin, z.text);
        assert.ok(named.ok, named.output);
        const knotc = await knotcZoneCheck(z.origin, z.text);
        assert.ok(knotc.ok, knotc.output);
        const kzc = await kzonecheck(z.origin, z.text);
        assert.ok(kzc, 'kzonecheck is missing: install Debian package knot-dnssecutils');
        assert.ok(kzc.ok, kzc.output);
      });
    }

    it('knotd serves every record of the JSON output, as kdig sees it', async () => {
      for (const r of records.filter((x) => x.zone !== null)) {
        const lines = await knot.dig(r.name, r.type);
        const got = lines.map((l) => canonicalValue(r.type, fromKdig(r.type, l)));
        assert.ok(got.includes(canonicalValue(r.type, r.value)), `${r.name} ${r.type}: expected ${r.value}, kdig said ${lines.join(' | ')}`);
      }
    });

    it('each DKIM record verifies a signature made with its private key (mailauth, resolving via knotd)', async () => {
      const lookup = mailauthResolver(knot.address);
      for (const key of c.keys.dkim) {
        const domain = c.config.domains.find((d) => d.name === key.domain);
        assert.ok(domain);
        const message = Buffer.from(
          `From: alice@${domain.name}\r\nTo: bob@example.org\r\nSubject: DKIM ${key.algorithm}\r\nDate: Thu, 15 Jan 2026 10:00:00 +0000\r\nMessage-ID: <1@${domain.name}>\r\n\r\nHello.\r\n`,
        );
        const signer = {
          signingDomain: domain.name,
          selector: key.selector,
          privateKey: key.privatePem,
          algorithm: key.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
        };
        // mailauth reads signatureData; its type declaration also wants the fields at the top level.
        const signed = await dkimSign(message, { canonicalization: 'relaxed/relaxed', ...signer, signatureData: [signer] });
        assert.match(signed.signatures, /^DKIM-Signature:/);
        assert.deepEqual(signed.errors, []);
        const verified = await dkimVerify(Buffer.concat([Buffer.from(signed.signatures), message]), { resolver: lookup });
        const results = verified.results.map((r) => `${r.signingDomain} ${r.status.result}`);
        assert.deepEqual(results, [`${domain.name} pass`], `${key.selector}: ${JSON.stringify(verified.results.map((r) => r.status))}`);
      }
    });

    it('the TLSA values are the SHA-256 of the TLS keys\' SubjectPublicKeyInfo (openssl)', async () => {
      const tlsa = records.filter((r) => r.type === 'TLSA').map((r) => r.value);
      for (const file of ['current.key', 'next.key']) {
        const spki = execFileSync('openssl', ['pkey', '-in', join(c.keys.dir, 'tls', file), '-pubout', '-outform', 'DER']);
        const digest = execFileSync('openssl', ['dgst', '-sha256', '-hex'], { input: spki }).toString().trim().split(/\s+/).pop();
        assert.ok(tlsa.includes(`3 1 1 ${digest}`), `${file}: ${digest} not in ${tlsa.join(', ')}`);
      }
      // ldns-dane derives the same record from the self-signed certificate of the current key (-n: the
      // certificate's names need not match, only its key matters here).
      const cert = join(c.keys.dir, 'tls', 'selfsigned.crt');
      const ldns = execFileSync('ldns-dane', ['-n', '-c', cert, 'create', c.config.server.hostname, '25', '3', '1', '1']).toString();
      assert.match(ldns, new RegExp(`TLSA\\s+3 1 1 ${c.pub.tlsa.current}`, 'i'));
    });
  });
}

// Keep the type import used when every suite is skipped.
export type { DnsCase };
