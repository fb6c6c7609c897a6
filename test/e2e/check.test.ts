// mailrig check against a provisioned host, Debian 12 and 13 (booted from the cached provisioned
// image): all ok on a good setup (apart from the warnings this test bed cannot avoid), then the right
// FAIL with the right fix after breaking four things at once — dovecot stopped, the DKIM record gone
// from the zone, an expired certificate served, Redis opened to the network — and --changes
// reporting exactly what moved.
//
// Expected warnings on the good setup, and why they are honest:
//   tls.certificate.*, tls.mta-sts.*  the self-signed bootstrap certificate (no ACME here): "not yet from ACME"
//   dns.dnssec.example.com            the test zone is unsigned, so TLSA does not count yet
//   deliverability.zen/dbl.*          "could not check": knotd answers the host's address on ZEN with
//                                     Spamhaus's error code 127.255.255.254 (a refused query, never a
//                                     listing) and refuses the DBL queries (no network)
//   host.updates                      may fail: the cached base image can lag Debian's security archive
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkFactsScript } from '../../src/host/facts-check.js';
import { MOUNTS } from '../../src/check/host/resources.js';
import { TLS_CERT } from '../../src/render/tls.js';
import { FIXTURES } from '../support/fixtures.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { checkResults, resultById, show, type Workspace } from '../support/e2e.js';
import { CONFIG_RELEASE, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const EXPECTED_WARNINGS = [/^tls\.certificate\./, /^tls\.mta-sts\./, /^dns\.dnssec\./, /^deliverability\.(zen|dbl)\./];

function reverseZone(address: string): { origin: string; text: string } {
  const [a, b, c, d] = address.split('.');
  const origin = `${b}.${a}.in-addr.arpa`;
  const text = [
    `$ORIGIN ${origin}.`,
    '$TTL 300',
    '@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300',
    '@ IN NS ns1.example.com.',
    `${d}.${c} IN PTR mail.example.com.`,
    '',
  ].join('\n');
  return { origin, text };
}

/** A zen.spamhaus.org that answers the address as Spamhaus answers a query it refuses. */
function spamhausRefusing(address: string): { origin: string; text: string } {
  const origin = 'zen.spamhaus.org';
  const text = [
    `$ORIGIN ${origin}.`,
    '$TTL 300',
    '@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300',
    '@ IN NS ns1.example.com.',
    `${address.split('.').reverse().join('.')} IN A 127.255.255.254`,
    '',
  ].join('\n');
  return { origin, text };
}

/** MAILRIG_RECORD_CHECK_FACTS=1: save the host's check facts as the unit tests' fixtures. */
async function record(host: TestHost, name: string, outbound: string): Promise<void> {
  if (!process.env.MAILRIG_RECORD_CHECK_FACTS) return;
  const r = await host.exec('sh -s', { stdin: checkFactsScript({ mounts: MOUNTS, certificatePath: TLS_CERT, outbound: [outbound] }) });
  writeFileSync(join(FIXTURES, 'check-facts', name), r.stdout);
}

for (const release of releasesUnderTest()) describe(`mailrig check on a provisioned ${CONFIG_RELEASE[release]} host`, { timeout: 15 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;
  let knot: KnotServer | undefined;
  let outbound: Server;
  let outboundTarget: string;
  let zone: string;

  const check = async (args: string[]) => {
    const started = Date.now();
    const r = await ws.mailrig(['check', '--resolver', knot?.address ?? '', '--outbound-target', outboundTarget, ...args], { hostFlags: true });
    process.stderr.write(`# mailrig check ${args.join(' ')}: exit ${r.code} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return r;
  };

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws } = await startProvisionedHost({ release, name: `check-${release}` }));
    // A stand-in for a big provider's MX, on this machine's end of the host's link.
    outbound = createServer((s) => s.end('220 outbound-test.invalid ESMTP\r\n'));
    await new Promise<void>((resolve) => outbound.listen(0, host.gateway, resolve));
    const addr = outbound.address();
    outboundTarget = `${host.gateway}:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    outbound?.close();
    await knot?.stop();
    await host?.stop();
  });

  it('serves the host\'s zones (forward and reverse) from knotd', async () => {
    const z = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
    assert.equal(z.code, 0, show(z));
    zone = z.out;
    knot = await startKnot({ zones: [{ origin: 'example.com', text: zone }, reverseZone(host.address), spamhausRefusing(host.address)] });
  });

  it('a good setup: no failure; only the warnings this test bed explains', async () => {
    await record(host, `${release}-provisioned.txt`, outboundTarget);
    const r = await check(['--json']);
    const rs = checkResults(r.out);
    const failing = rs.filter((x) => x.status === 'fail');
    assert.deepEqual(failing.filter((x) => x.id !== 'host.updates'), [], show(r));
    assert.equal(r.code, failing.length ? 1 : 0, show(r));
    const unexpected = rs.filter((x) => x.status === 'warn' && x.id !== 'host.updates' && !EXPECTED_WARNINGS.some((re) => re.test(x.id)));
    assert.deepEqual(unexpected, [], JSON.stringify(unexpected, null, 2));
    for (const x of rs.filter((y) => y.status !== 'ok')) assert.ok(x.fix, `${x.id} has a fix line`);
    assert.match(resultById(rs, 'tls.certificate.25').message, /self-signed bootstrap certificate: not yet from ACME/);
    assert.match(resultById(rs, 'dns.dnssec.example.com').message, /unsigned: senders ignore its TLSA record/);
    assert.equal(resultById(rs, `deliverability.zen.${host.address}`).unknown, true);
    assert.match(resultById(rs, `deliverability.zen.${host.address}`).message, /127\.255\.255\.254/);
    for (const id of ['host.daemon.dovecot', 'host.port.993', 'host.port.6379', 'host.port.10001', 'host.port.10002', 'host.drift', 'host.queue', 'dns.zone.example.com',
      `dns.ptr.${host.address}`, 'dns.spf.example.com', 'dns.dmarc.example.com', 'tls.tlsa.25', 'tls.protocols.25', 'tls.protocols.993',
      'deliverability.outbound-25', `deliverability.relay.${host.address}`]) {
      assert.equal(resultById(rs, id).status, 'ok', `${id}: ${resultById(rs, id).message}`);
    }
    assert.match(resultById(rs, `deliverability.relay.${host.address}`).message, /^refused: 554 .*Relay access denied/);
  });

  it('after breakage: the right FAIL lines with the right fixes, and --changes says what moved', async () => {
    // 1. dovecot stopped.
    await host.exec('service dovecot stop >/dev/null 2>&1');
    // 2. the DKIM records gone from the zone.
    await knot?.stop();
    knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.split('\n').filter((l) => !l.includes('_domainkey')).join('\n') }, reverseZone(host.address)] });
    // 3. an expired certificate for the current key, installed and loaded.
    const tmp = mkdtempSync(join(tmpdir(), 'mailrig-expired-'));
    try {
      const key = join(ws.dir, '.mailrig/tls/current.key');
      execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=mail.example.com', '-out', join(tmp, 'csr')]);
      execFileSync('openssl', ['x509', '-req', '-in', join(tmp, 'csr'), '-key', key, '-days', '-1', '-out', join(tmp, 'crt')], { stdio: 'ignore' });
      const put = await host.exec('cat > /etc/mailrig/tls/fullchain.pem && service postfix reload >/dev/null 2>&1 && service nginx reload >/dev/null 2>&1', { stdin: readFileSync(join(tmp, 'crt')) });
      assert.equal(put.code, 0, put.stderr);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    // 4. Redis open to the network.
    const redis = await host.exec("sed -i 's/^bind .*/bind 0.0.0.0/' /etc/redis/redis.conf && service redis-server restart >/dev/null 2>&1");
    assert.equal(redis.code, 0, redis.stderr);

    await record(host, `${release}-broken.txt`, `${host.gateway}:1`);
    const changes = await check(['--changes']);
    assert.equal(changes.code, 1, show(changes));
    assert.match(changes.out, /ok\s+→ FAIL|ok\s+→ fail/);
    assert.match(changes.out, /dovecot: not running/);
    assert.match(changes.out, /port 6379 \(redis\): redis is exposed beyond loopback/);

    const r = await check(['--json']);
    assert.equal(r.code, 1, show(r));
    const rs = checkResults(r.out);
    const dovecot = resultById(rs, 'host.daemon.dovecot');
    assert.equal(dovecot.status, 'fail');
    assert.match(dovecot.fix ?? '', /mailrig apply starts it/);
    assert.equal(resultById(rs, 'host.port.993').status, 'fail');
    assert.match(resultById(rs, 'host.port.993').message, /nothing listens on it on the host/);

    const dkim = rs.filter((x) => x.id.startsWith('dns.record.TXT.') && x.id.includes('._domainkey.'));
    assert.equal(dkim.length, 2, 'both DKIM records (RSA and Ed25519) missing');
    for (const x of dkim) {
      assert.equal(x.status, 'fail');
      assert.match(x.message, /not published/);
      assert.match(x.fix ?? '', /^publish .*_domainkey\.example\.com\. TXT v=DKIM1/);
    }

    for (const port of [25, 465, 587, 443]) {
      const cert = resultById(rs, `tls.certificate.${port}`);
      assert.equal(cert.status, 'fail', `${port}: ${cert.message}`);
      assert.match(cert.message, /expired on \d{4}-\d\d-\d\d/);
      assert.match(cert.fix ?? '', /mailrig cert renew/);
    }
    assert.match(resultById(rs, 'tls.certificate.993').message, /no TLS/);

    const redisPort = resultById(rs, 'host.port.6379');
    assert.equal(redisPort.status, 'fail');
    assert.match(redisPort.message, /0\.0\.0\.0:6379/);
    assert.match(redisPort.fix ?? '', /mailrig apply restores the redis config/);

    const drift = resultById(rs, 'host.drift');
    assert.match(drift.message, /\/etc\/redis\/redis\.conf \(changed\)/);
    assert.match(drift.message, /\/etc\/mailrig\/tls\/fullchain\.pem \(changed\)/);

    // Nothing moved since the run before: --changes prints nothing (cron then mails nothing).
    const quiet = await check(['--changes']);
    assert.equal(quiet.out, '', show(quiet));

    const table = await check([]);
    process.stderr.write(table.out.replace(/^/gm, '# '));
    assert.match(table.out, /^\s+FAIL\s+dovecot\s+not running\n\s+fix: mailrig apply starts it/m);
    assert.match(table.out, /\d+ ok, \d+ warn, \d+ fail/);
  });
});
