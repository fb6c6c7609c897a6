// TLS checks: certificate judgement (trust, names, expiry, installed), TLSA, MTA-STS policy, and the
// real probes against a STARTTLS server on loopback (certificate served, TLS 1.1 refused).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer as createTcpServer, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { EXPIRY, judgeCertificate, leafOf, spkiSha256, type CertificateContext } from '../../src/check/tls/certificate.js';
import { judgePolicy, mxMatches, parsePolicy } from '../../src/check/tls/mtasts.js';
import { judgeFloor } from '../../src/check/tls/protocol.js';
import { judgeTlsa } from '../../src/check/tls/tlsa.js';
import { fingerprint } from '../../src/check/env.js';
import { legacyHandshake, servedCertificate, type Served } from '../../src/net/tls.js';
import { makeSelfSignedCertificate } from '../../src/keys/selfsigned.js';
import { fixtureKeys } from '../support/fixtures.js';

const keys = fixtureKeys(['example.com']);
const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const names = ['mail.example.com', 'mta-sts.example.com', 'autoconfig.example.com', 'autodiscover.example.com'];

let bootstrapPem: string;
let bootstrap: X509Certificate;
let expired: X509Certificate;
let soon: X509Certificate;

before(async () => {
  bootstrapPem = await makeSelfSignedCertificate(keys.tls.current.privatePem, names, new Date(NOW.getTime() - 10 * DAY));
  bootstrap = new X509Certificate(bootstrapPem);
  // makeSelfSignedCertificate issues for 825 days from `now`.
  expired = new X509Certificate(await makeSelfSignedCertificate(keys.tls.current.privatePem, names, new Date(NOW.getTime() - 830 * DAY)));
  soon = new X509Certificate(await makeSelfSignedCertificate(keys.tls.current.privatePem, ['mail.example.com'], new Date(NOW.getTime() - 815 * DAY)));
});

const served = (cert: X509Certificate, authorized = false, authorizationError = 'DEPTH_ZERO_SELF_SIGNED_CERT'): Served => ({
  chain: [cert],
  authorized,
  authorizationError: authorized ? undefined : authorizationError,
  protocol: 'TLSv1.3',
  error: undefined,
});

const ctx = (over: Partial<CertificateContext> = {}): CertificateContext => ({
  names: ['mail.example.com'],
  now: NOW,
  bootstrapFingerprint: fingerprint(bootstrap),
  installed: bootstrap,
  reload: 'service postfix reload',
  ...over,
});

describe('check: certificate', () => {
  it("mailrig's bootstrap certificate warns: not yet from ACME", () => {
    const r = judgeCertificate(25, 'SMTP', served(bootstrap), ctx());
    assert.equal(r.status, 'warn');
    assert.equal(r.message, "mailrig's self-signed bootstrap certificate: not yet from ACME");
    assert.match(r.fix ?? '', /tls\.acme: letsencrypt/);
  });

  it('a trusted, covering, installed certificate is ok', () => {
    const r = judgeCertificate(443, 'HTTPS', served(bootstrap, true), ctx({ names }));
    assert.equal(r.status, 'ok');
    assert.match(r.message, /^valid until \d{4}-\d\d-\d\d \(\d+ days\), trusted, covers 4 names, the installed one$/);
  });

  it('expired fails with the renewal fix, whatever else is wrong', () => {
    const r = judgeCertificate(25, 'SMTP', served(expired), ctx({ installed: expired }));
    assert.equal(r.status, 'fail');
    assert.match(r.message, /^expired on \d{4}-\d\d-\d\d; not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/);
    assert.match(r.fix ?? '', /mailrig cert renew/);
  });

  it(`expiry: warn under ${EXPIRY.warnDays} days, fail under ${EXPIRY.failDays}`, () => {
    const days = Math.floor((Date.parse(soon.validTo) - NOW.getTime()) / DAY);
    const r = judgeCertificate(25, 'SMTP', served(soon, true), ctx({ installed: soon }));
    assert.equal(r.status, days < EXPIRY.failDays ? 'fail' : 'warn');
    assert.match(r.message, new RegExp(`expires in ${days} days`));
  });

  it('names it must cover, and the installed one', () => {
    const missing = judgeCertificate(443, 'HTTPS', served(soon, true), ctx({ names, installed: soon }));
    assert.match(missing.message, /does not cover mta-sts\.example\.com, autoconfig\.example\.com, autodiscover\.example\.com/);
    const stale = judgeCertificate(25, 'SMTP', served(bootstrap, true), ctx({ installed: expired }));
    assert.equal(stale.status, 'fail');
    assert.match(stale.message, /not the certificate installed in \/etc\/mailrig\/tls\/fullchain\.pem/);
    assert.equal(stale.fix, 'reload the daemon so it reads the installed one: service postfix reload');
  });

  it('no TLS at all fails', () => {
    const r = judgeCertificate(993, 'IMAPS', { chain: [], authorized: false, authorizationError: undefined, protocol: undefined, error: 'connection refused' }, ctx());
    assert.equal(r.status, 'fail');
    assert.equal(r.message, 'no TLS on IMAPS: connection refused');
  });

  it('leafOf reads the first certificate of a chain', () => {
    assert.equal(leafOf(`${bootstrapPem}${bootstrapPem}`)?.fingerprint256, bootstrap.fingerprint256);
    assert.equal(leafOf(''), null);
  });
});

describe('check: TLSA', () => {
  const key = () => spkiSha256(bootstrap);
  it('matches the served key', () => {
    assert.equal(key(), keys.tls.current.spkiSha256);
    const r = judgeTlsa('_25._tcp.mail.example.com', [`3 1 1 ${key().toUpperCase()}`], served(bootstrap), true, { current: key(), next: 'x' });
    assert.equal(r.status, 'ok');
    assert.equal(r.message, 'matches the served key (the current key)');
  });
  it('a mismatch fails when the zone is signed and warns when not', () => {
    const stale = [`3 1 1 ${'0'.repeat(64)}`];
    assert.equal(judgeTlsa('_25._tcp.mail.example.com', stale, served(bootstrap), true, { current: key(), next: 'x' }).status, 'fail');
    assert.equal(judgeTlsa('_25._tcp.mail.example.com', stale, served(bootstrap), false, { current: key(), next: 'x' }).status, 'warn');
  });
});

describe('check: MTA-STS policy', () => {
  const body = 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n';
  const fetched = (text: string, authorized = true, cert: X509Certificate | undefined = bootstrap) => ({ status: 200, body: text, authorized, authorizationError: authorized ? undefined : 'DEPTH_ZERO_SELF_SIGNED_CERT', certificate: cert, error: undefined });
  it('parses the policy and matches wildcards one label deep', () => {
    assert.deepEqual(parsePolicy(body), { version: 'STSv1', mode: 'enforce', mx: ['mail.example.com'], maxAge: 604800 });
    assert.ok(mxMatches('*.example.com', 'mail.example.com'));
    assert.ok(!mxMatches('*.example.com', 'a.mail.example.com'));
  });
  it('ok over a trusted certificate; warn over the bootstrap one; testing mode warns; wrong mx fails', () => {
    assert.equal(judgePolicy('example.com', 'mail.example.com', fetched(body), '').status, 'ok');
    const boot = judgePolicy('example.com', 'mail.example.com', fetched(body, false), fingerprint(bootstrap));
    assert.equal(boot.status, 'warn');
    assert.match(boot.message, /bootstrap certificate/);
    assert.equal(judgePolicy('example.com', 'mail.example.com', fetched(body.replace('enforce', 'testing')), '').status, 'warn');
    const wrong = judgePolicy('example.com', 'mail.example.com', fetched(body.replace('mx: mail.example.com', 'mx: old.example.com')), '');
    assert.equal(wrong.status, 'fail');
    assert.match(wrong.message, /does not list mail\.example\.com \(mx: old\.example\.com\)/);
    assert.equal(judgePolicy('example.com', 'mail.example.com', fetched(body, false, expired), 'other').status, 'fail');
  });
});

describe('check: TLS probes against a STARTTLS server on loopback', () => {
  let server: Server;
  let port = 0;
  before(async () => {
    // A minimal SMTP server: greeting, EHLO with STARTTLS, then TLS 1.2+ with the bootstrap certificate.
    server = createTcpServer((socket) => {
      socket.write('220 test ESMTP\r\n');
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString();
        if (/^EHLO/im.test(buf) && !/STARTTLS/i.test(buf)) {
          buf = '';
          socket.write('250-test\r\n250 STARTTLS\r\n');
        } else if (/STARTTLS\r\n/i.test(buf)) {
          socket.off('data', onData);
          socket.write('220 go ahead\r\n');
          const tls = new TLSSocket(socket, { isServer: true, key: keys.tls.current.privatePem, cert: bootstrapPem, minVersion: 'TLSv1.2' });
          tls.on('error', () => socket.destroy());
        }
      };
      socket.on('data', onData);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  after(() => server.close());

  it('reads the certificate after STARTTLS and verifies it against the CAs given', async () => {
    const s = await servedCertificate({ host: '127.0.0.1', port, mode: 'smtp', servername: 'mail.example.com' }, [bootstrapPem]);
    assert.equal(s.error, undefined);
    assert.equal(s.chain[0]?.fingerprint256, bootstrap.fingerprint256);
    assert.equal(s.authorized, true);
    const untrusted = await servedCertificate({ host: '127.0.0.1', port, mode: 'smtp', servername: 'mail.example.com' }, []);
    assert.equal(untrusted.authorized, false);
    assert.equal(untrusted.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('a TLS 1.1 handshake is refused', async () => {
    const probe = await legacyHandshake({ host: '127.0.0.1', port, mode: 'smtp', servername: 'mail.example.com' });
    assert.deepEqual(probe, { refused: true, protocol: undefined, error: undefined });
    assert.equal(judgeFloor(port, probe).status, 'ok');
    assert.equal(judgeFloor(25, { refused: false, protocol: 'TLSv1.1', error: undefined }).status, 'fail');
  });

  it('a closed port is an error, not a refusal', async () => {
    const probe = await legacyHandshake({ host: '127.0.0.1', port: 1, mode: 'implicit', servername: 'x' });
    assert.equal(probe.refused, false);
    assert.equal(judgeFloor(1, probe).unknown, true);
  });
});
