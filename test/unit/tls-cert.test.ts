// Reading certificates, the renewal decision (a third of the lifetime left, another key, a missing
// name, the self-signed bootstrap) and which certificate the host should serve — with the clock given.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { certificateInfo, chooseCertificate, daysLeft, renewalDecision, spkiOfKey } from '../../src/tls/cert.js';
import { fixtureKeyDir } from '../support/fixtures.js';
import { caIssued } from '../support/testcerts.js';

const dir = fixtureKeyDir();
const CURRENT = readFileSync(join(dir, 'tls/current.key'), 'utf8');
const NEXT = readFileSync(join(dir, 'tls/next.key'), 'utf8');
const SELF = readFileSync(join(dir, 'tls/selfsigned.crt'), 'utf8');
const NAMES = ['mail.example.com', 'mta-sts.example.com', 'autoconfig.example.com', 'autodiscover.example.com'];
const T0 = new Date('2026-03-01T00:00:00Z');
const day = (n: number) => new Date(T0.getTime() + n * 86_400_000);

describe('certificate facts', () => {
  it('reads issuer, names, validity, key and fingerprint of a CA-issued leaf', async () => {
    const pem = await caIssued(CURRENT, NAMES, T0, day(90));
    const info = certificateInfo(pem);
    assert.equal(info.issuer, 'CN=Test CA');
    assert.deepEqual(info.names, NAMES);
    assert.equal(info.notAfter.toISOString(), day(90).toISOString());
    assert.equal(info.spkiSha256, spkiOfKey(CURRENT));
    assert.match(info.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(info.selfSigned, false);
    assert.equal(daysLeft(info, day(30)), 60);
  });

  it('knows the self-signed bootstrap certificate for what it is', () => {
    assert.equal(certificateInfo(SELF).selfSigned, true);
  });
});

describe('renewal decision', () => {
  const want = { names: NAMES, spkiSha256: spkiOfKey(CURRENT) };
  const cases: Array<[string, () => Promise<string | undefined>, Date, boolean, string | undefined]> = [
    ['a fresh 90-day certificate is kept', () => caIssued(CURRENT, NAMES, T0, day(90)), day(1), false, undefined],
    ['at day 59 of 90 it is still kept', () => caIssued(CURRENT, NAMES, T0, day(90)), day(59), false, undefined],
    ['from day 60 of 90 (a third left) it is renewed', () => caIssued(CURRENT, NAMES, T0, day(90)), day(60), true, 'due'],
    ['a 6-day certificate is renewed after 4 days', () => caIssued(CURRENT, NAMES, T0, day(6)), day(4), true, 'due'],
    ['an expired one is renewed', () => caIssued(CURRENT, NAMES, T0, day(90)), day(91), true, 'expired'],
    ['one for another key is replaced', () => caIssued(NEXT, NAMES, T0, day(90)), day(1), true, 'other-key'],
    ['one lacking a name is replaced', () => caIssued(CURRENT, NAMES.slice(0, 2), T0, day(90)), day(1), true, 'names'],
    ['the self-signed one is replaced', async () => SELF, day(1), true, 'self-signed'],
    ['no certificate at all: issue one', async () => undefined, day(1), true, 'self-signed'],
  ];
  for (const [name, make, now, renew, reason] of cases) {
    it(name, async () => {
      const pem = await make();
      const d = renewalDecision(pem === undefined ? undefined : certificateInfo(pem), want, now);
      assert.equal(d.renew, renew, d.message);
      assert.equal(d.reason, reason);
    });
  }
  it('--force renews a fresh certificate', async () => {
    const d = renewalDecision(certificateInfo(await caIssued(CURRENT, NAMES, T0, day(90))), want, day(1), true);
    assert.deepEqual([d.renew, d.reason], [true, 'forced']);
  });
});

describe('which certificate the host serves once ACME is on', () => {
  const spkiSha256 = spkiOfKey(CURRENT);
  it("keeps the host's copy when the agent renewed it after .mailrig's", async () => {
    const local = await caIssued(CURRENT, NAMES, T0, day(90), '01');
    const host = await caIssued(CURRENT, NAMES, day(60), day(150), '02');
    assert.equal(chooseCertificate({ selfSigned: SELF, local, host, spkiSha256, now: day(61) }).source, 'host');
    assert.equal(chooseCertificate({ selfSigned: SELF, local: host, host: local, spkiSha256, now: day(61) }).source, 'local');
  });
  it("ignores a copy for another key (after a key roll) or an expired one, and a damaged file", async () => {
    const local = await caIssued(CURRENT, NAMES, T0, day(90));
    const host = await caIssued(NEXT, NAMES, day(10), day(100));
    assert.deepEqual(chooseCertificate({ selfSigned: SELF, local, host, spkiSha256, now: day(11) }), { pem: local, source: 'local' });
    assert.equal(chooseCertificate({ selfSigned: SELF, local, host: 'garbage', spkiSha256, now: day(91) }).source, 'self-signed');
  });
  it('falls back to the self-signed certificate when nothing else is usable', () => {
    assert.deepEqual(chooseCertificate({ selfSigned: SELF, spkiSha256, now: T0 }), { pem: SELF, source: 'self-signed' });
  });
});
