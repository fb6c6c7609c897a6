// TLS over ACME, end to end against Pebble (Let's Encrypt's test CA) with real DNS, on Debian 12 and 13:
// on a host provisioned with the self-signed certificate (from the cached provisioned image), pointing
// tls.acme at Pebble makes apply get a certificate through the host's nginx (HTTP-01, validated by
// Pebble against the zone `mailrig dns` printed, served by knotd); every TLS port serves the chain and
// it verifies against Pebble's root; TLSA matches the served key; the on-host agent's forced renewal
// keeps the key; mail still flows; `tls roll-key` switches to the pre-published next key; and with
// Pebble unreachable apply still succeeds on the self-signed certificate, the agent — started by its
// daily systemd timer's service, logging to the journal — catching up later.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startKnot, type KnotServer } from '../support/knot.js';
import { fetchInbox, show, submit, type Workspace } from '../support/e2e.js';
import { pebbleAvailable, startPebble, type Pebble } from '../support/pebble.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const run = promisify(execFile);
const PASSWORD = PROVISIONED.alicePassword;
const AGENT = 'node /usr/local/lib/mailrig/agent.cjs';
const PORTS: Array<[number, string[]]> = [
  [25, ['-starttls', 'smtp']],
  [465, []],
  [587, ['-starttls', 'smtp']],
  [993, []],
  [443, []],
];

/** openssl s_client with -verify_return_error against `caFile`: the leaf's SHA-256 fingerprint, or throws. */
async function verifiedLeaf(address: string, port: number, extra: string[], caFile: string): Promise<string> {
  const { stdout } = await run('sh', [
    '-c',
    `openssl s_client -connect ${address}:${port} -servername mail.example.com -verify_return_error -CAfile ${caFile} ${extra.join(' ')} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
  ]);
  const fp = /Fingerprint=([0-9A-F:]+)/.exec(stdout)?.[1];
  if (!fp) throw new Error(`port ${port}: no verified certificate`);
  return fp;
}

/** The SHA-256 fingerprint of the leaf a port serves, unverified ('' if none). */
async function servedLeaf(address: string, port: number, extra: string[]): Promise<string> {
  const r = await run('sh', [
    '-c',
    `openssl s_client -connect ${address}:${port} -servername mail.example.com ${extra.join(' ')} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
  ]).catch(() => ({ stdout: '' }));
  return /Fingerprint=([0-9A-F:]+)/.exec(r.stdout)?.[1] ?? '';
}

/**
 * Waits until every port serves the certificate installed on the host. A reload only signals the
 * daemons, which take the new certificate up after the command that asked for it has returned.
 */
async function untilServed(host: TestHost, ports: Array<[number, string[]]> = PORTS): Promise<void> {
  const installed = await installedFingerprint(host);
  const deadline = Date.now() + 120_000;
  for (const [port, extra] of ports) {
    for (;;) {
      const fp = await servedLeaf(host.address, port, extra);
      if (fp && installed.includes(fp)) break;
      assert.ok(Date.now() < deadline, `port ${port} serves the installed certificate; it serves ${fp || 'none'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function installedFingerprint(host: TestHost): Promise<string> {
  const r = await host.exec('openssl x509 -in /etc/mailrig/tls/fullchain.pem -noout -fingerprint -sha256 -serial');
  return r.stdout;
}

for (const release of releasesUnderTest()) describe(`TLS certificates over ACME against Pebble (${CONFIG_RELEASE[release]})`, { timeout: 15 * 60_000, skip: !pebbleAvailable() && !process.env.CI && 'pebble is not installed (CI installs it)' }, () => {
  let host: TestHost;
  let ws: Workspace;
  let knot: KnotServer;
  let pebble: Pebble;
  let rootFile: string;

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws } = await startProvisionedHost({ release, name: `tls-${release}` }));
  });
  after(async () => {
    await pebble?.close();
    await knot?.stop();
    await host?.stop();
  });

  it('apply gets a Pebble certificate once tls.acme names it: every TLS port serves it, verified against Pebble\'s root', async () => {
    // The zone does not depend on the ACME directory (a private CA gets no CAA record): serve the
    // zone, start Pebble resolving through it, then point tls.acme at Pebble.
    const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
    assert.equal(zone.code, 0, show(zone));
    knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.out }] });
    pebble = await startPebble({ listen: host.gateway, dnsServer: knot.address });
    const path = join(ws.dir, 'mailrig.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^(\s+)acme: \S+/m, `$1acme: ${pebble.directoryUrl}\n$1ca_bundle: ${pebble.tlsCertFile}`));
    await pebble.start();
    rootFile = join(ws.dir, 'pebble-root.pem');
    writeFileSync(rootFile, await pebble.issuingRoot());

    const r = await ws.mailrig(['apply', '--yes']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.out, /certificate from .*pebble/i, show(r));
    assert.doesNotMatch(r.err, /warning/, show(r));

    const installed = await installedFingerprint(host);
    await untilServed(host);
    for (const [port, extra] of PORTS) {
      const fp = await verifiedLeaf(host.address, port, extra, rootFile);
      assert.ok(installed.includes(fp), `port ${port} serves the installed certificate (${fp})`);
    }
    const status = await ws.mailrig(['cert', 'status', '--json', '--resolver', knot.address], { hostFlags: true });
    assert.equal(status.code, 0, show(status));
    const s = JSON.parse(status.out) as { installed: { issuer: string; spkiSha256: string }; tlsa: Array<{ status: string; matchesServedKey: boolean }> };
    assert.match(s.installed.issuer, /Pebble/i);
    assert.ok(s.tlsa.some((t) => t.matchesServedKey && t.status === 'ok'), 'the published TLSA record matches the served key');
  });

  it('the agent\'s forced renewal gives a new certificate for the same key, served everywhere; mail still flows', async () => {
    const before = await installedFingerprint(host);
    const keyBefore = (await host.exec('openssl pkey -in /etc/mailrig/tls/privkey.pem -pubout')).stdout;
    const renew = await ws.mailrig(['cert', 'renew', '--force'], { hostFlags: true });
    assert.equal(renew.code, 0, show(renew));
    assert.match(renew.out, /renewed: .*reloaded/);
    const after = await installedFingerprint(host);
    assert.notEqual(after, before, 'a new certificate');
    const certKey = (await host.exec('openssl x509 -in /etc/mailrig/tls/fullchain.pem -noout -pubkey')).stdout;
    assert.equal(certKey, keyBefore, 'for the same key');
    await untilServed(host);
    for (const [port, extra] of PORTS) {
      const fp = await verifiedLeaf(host.address, port, extra, rootFile);
      assert.ok(after.includes(fp), `port ${port} serves the renewed certificate`);
    }
    const log = await host.exec('cat /var/log/mailrig-agent.log');
    assert.match(log.stdout, /renewing \(renewal forced\)/);

    const ca = readFileSync(rootFile, 'utf8');
    const common = { host: host.address, user: 'alice@example.com', password: PASSWORD, ca, servername: 'mail.example.com' };
    const sent = await submit({ ...common, port: 587 }, { from: 'alice@example.com', to: 'alice@example.com', subject: 'after renewal', text: 'Still flowing.' });
    assert.deepEqual(sent.rejected, []);
    const inbox = await fetchInbox(common, 1);
    assert.ok(inbox.some((m) => /Subject: after renewal/.test(m.toString())));
    // A run when nothing is due changes nothing.
    const idle = await host.exec(AGENT);
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stdout, /no renewal needed/);
  });

  it('the agent runs from a daily systemd timer, enabled, its service logging to the journal', async () => {
    const timers = await host.exec('systemctl is-enabled mailrig-agent.timer; systemctl list-timers --all --no-pager --no-legend mailrig-agent.timer');
    assert.match(timers.stdout, /^enabled\n.*mailrig-agent\.timer\s+mailrig-agent\.service/, timers.stdout);
    const start = await host.exec('systemctl start mailrig-agent.service', { timeoutMs: 120_000 });
    assert.equal(start.code, 0, start.stderr);
    const journal = await host.exec('journalctl --no-pager -o cat -u mailrig-agent.service');
    assert.match(journal.stdout, /no renewal needed/);
  });

  it('tls roll-key switches to the pre-published next key; mailrig dns retires the old one', async () => {
    const dnsBefore = await ws.mailrig(['dns', '--format', 'json']);
    const tlsa = (out: string) => (JSON.parse(out) as Array<{ type: string; value: string }>).filter((r) => r.type === 'TLSA').map((r) => r.value);
    const [oldCurrent, next] = tlsa(dnsBefore.out);
    assert.ok(oldCurrent && next, dnsBefore.out);
    const roll = await ws.mailrig(['tls', 'roll-key', '--yes', '--resolver', knot.address], { hostFlags: true });
    assert.equal(roll.code, 0, show(roll));
    const status = await ws.mailrig(['cert', 'status', '--json', '--resolver', knot.address], { hostFlags: true });
    assert.equal(status.code, 0, show(status));
    const s = JSON.parse(status.out) as { installed: { spkiSha256: string } };
    assert.equal(`3 1 1 ${s.installed.spkiSha256}`, next, 'the server now uses the key whose TLSA was published ahead');
    await untilServed(host);
    for (const [port, extra] of PORTS) await verifiedLeaf(host.address, port, extra, rootFile);
    const after = tlsa((await ws.mailrig(['dns', '--format', 'json'])).out);
    assert.equal(after[0], next);
    assert.ok(!after.includes(oldCurrent), 'the old key is retired from mailrig dns');
    assert.equal(after.length, 2, 'current and a new next key');
  });

  it('Pebble unreachable: apply still succeeds on the self-signed certificate with a warning; the agent gets one later', async () => {
    await pebble.stop();
    // A host whose certificate was lost: apply must put the self-signed one back and try the CA.
    await host.exec('rm -f /etc/mailrig/tls/fullchain.pem');
    rmSync(join(ws.dir, '.mailrig/tls/acme.crt'));
    const r = await ws.mailrig(['apply', '--yes']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.err, /warning: no certificate from .*the renewal agent on the host retries daily/s, show(r));
    await untilServed(host, [[443, []]]);
    await assert.rejects(verifiedLeaf(host.address, 443, [], rootFile), 'the self-signed certificate does not verify');
    const issuer = await host.exec('openssl x509 -in /etc/mailrig/tls/fullchain.pem -noout -issuer');
    assert.match(issuer.stdout, /mail\.example\.com/);

    await pebble.start();
    writeFileSync(rootFile, await pebble.issuingRoot()); // a restarted Pebble has a new CA
    // What the daily timer does: start the agent's service (a oneshot: it returns when the run ends).
    const agent = await host.exec('systemctl start mailrig-agent.service', { timeoutMs: 120_000 });
    assert.equal(agent.code, 0, agent.stderr);
    const journal = await host.exec('journalctl --no-pager -o cat -u mailrig-agent.service');
    assert.match(journal.stdout, /no certificate from the CA yet[\s\S]*renewed/, journal.stdout);
    await untilServed(host);
    for (const [port, extra] of PORTS) await verifiedLeaf(host.address, port, extra, rootFile);
  });
});
