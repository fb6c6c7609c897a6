// The TLS policy front's decisions against a real validating resolver: Debian's unbound (validating,
// forwarding to a knotd that serves DNSSEC-signed, bogus and unsigned zones) and the rendered front
// script run with the machine's Python 3. Each domain is asked over the socketmap protocol, as
// Postfix asks: "dane" where DANE applies or the lookups fail, otherwise the question goes on to the
// next table, here a small echo server standing in for mta-sts-daemon (whose own answers the
// outbound end-to-end test proves). unbound comes from Debian's .debs of the machine's release
// (apt-get download), unpacked into a temporary directory; nothing is installed.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { renderStsFront, STS_FRONT_SCRIPT } from '../../src/render/mta-sts.js';
import { breakSignature, newZoneKey, signZone, type ZoneKey } from '../support/dnssec.js';
import { fixtureKeys, oneDomainConfig } from '../support/fixtures.js';
import { freePort, knotAvailable, startKnot, type KnotServer } from '../support/knot.js';

const run = promisify(execFile);
const PACKAGES = ['unbound', 'libevent-2.1-7', 'libprotobuf-c1', 'libsodium23', 'libnghttp2-14'];
const TLSA = `3 1 1 ${'ab'.repeat(32)}`;

function zone(origin: string, records: string[]): string {
  return [`$ORIGIN ${origin}.`, '$TTL 300', `@ IN SOA ns1.${origin}. h.${origin}. 1 3600 600 86400 300`, `@ IN NS ns1.${origin}.`, 'ns1 IN A 192.0.2.53', ...records, ''].join('\n');
}

/** One socketmap query and its reply (netstring data). */
function ask(port: number, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.setTimeout(60_000, () => s.destroy(new Error(`no answer for ${key}`)));
    s.on('connect', () => s.write(`${Buffer.byteLength(`postfix ${key}`)}:postfix ${key},`));
    s.on('data', (d) => {
      data += d.toString();
      const m = /^(\d+):/.exec(data);
      if (m && data.length >= m[0].length + Number(m[1]) + 1) {
        s.end();
        resolve(data.slice(m[0].length, m[0].length + Number(m[1])));
      }
    });
    s.on('error', reject);
  });
}

/** Waits until something accepts connections on the loopback port. */
async function listening(port: number, what: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => connect(port, '127.0.0.1').on('connect', function (this: import('node:net').Socket) { this.end(); r(true); }).on('error', () => r(false)));
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`nothing listens on ${port}: ${what()}`);
}

describe('the TLS policy front against a real validating unbound', { skip: !knotAvailable() && 'knotd is not installed' }, () => {
  let dir = '';
  let knot: KnotServer | undefined;
  const keys: ZoneKey[] = [];
  const children: ChildProcess[] = [];
  let upstream: Server | undefined;
  let frontPort = 0;
  let logs = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailrig-sts-front-'));
    await run('apt-get', ['download', ...PACKAGES], { cwd: dir });
    for (const deb of readdirSync(dir).filter((f) => f.endsWith('.deb'))) await run('dpkg-deb', ['-x', join(dir, deb), join(dir, 'root')]);

    const signed = await newZoneKey('signed.example');
    const bogus = await newZoneKey('bogus.example');
    keys.push(signed, bogus);
    knot = await startKnot({
      zones: [
        {
          origin: 'signed.example',
          text: await signZone(signed, zone('signed.example', [
            'mail IN A 192.0.2.1', `_25._tcp.mail IN TLSA ${TLSA}`, 'dane IN MX 10 mail.signed.example.',
            'mx2 IN A 192.0.2.2', 'notlsa IN MX 10 mx2.signed.example.',
            'implicit IN A 192.0.2.3', `_25._tcp.implicit IN TLSA ${TLSA}`,
            'nullmx IN MX 0 .',
            'insecurehost IN MX 10 mail.plain.example.',
          ])),
        },
        { origin: 'bogus.example', text: breakSignature(await signZone(bogus, zone('bogus.example', ['@ IN MX 10 mail.bogus.example.', 'mail IN A 192.0.2.4', `_25._tcp.mail IN TLSA ${TLSA}`])), 'TLSA') },
        { origin: 'plain.example', text: zone('plain.example', ['@ IN MX 10 mail.signed.example.', 'mail IN A 192.0.2.5']) },
      ],
    });
    const [knotHost, knotPort] = knot.address.split(':');
    const resolverPort = await freePort();
    writeFileSync(
      join(dir, 'unbound.conf'),
      [
        'server:',
        `  interface: 127.0.0.1@${resolverPort}`,
        '  username: ""', '  chroot: ""', `  directory: "${dir}"`, '  pidfile: ""', '  use-syslog: no',
        '  do-not-query-localhost: no', '  module-config: "validator iterator"',
        ...keys.map((k) => `  trust-anchor: "${k.ds}"`),
        'forward-zone:', '  name: "."', `  forward-addr: ${knotHost}@${knotPort}`, '',
      ].join('\n'),
    );
    const unbound = spawn(join(dir, 'root/usr/sbin/unbound'), ['-d', '-c', join(dir, 'unbound.conf')], {
      env: { ...process.env, LD_LIBRARY_PATH: join(dir, 'root/usr/lib/x86_64-linux-gnu') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    unbound.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    children.push(unbound);

    // The next table: answers with the question it was asked, so a relayed one is recognised.
    upstream = createServer((s) => s.on('data', (d) => {
      const request = /^\d+:(.*),$/.exec(d.toString())?.[1] ?? '';
      const reply = `OK asked ${request}`;
      s.write(`${reply.length}:${reply},`);
    }));
    const upstreamPort = await freePort();
    await new Promise<void>((r) => upstream?.listen(upstreamPort, '127.0.0.1', r));

    // The rendered script, its addresses moved to free ports.
    frontPort = await freePort();
    const rendered = renderStsFront({ config: oneDomainConfig(), keys: fixtureKeys(['example.com']), release: 'debian-12' }).find((f) => f.path === STS_FRONT_SCRIPT);
    assert.ok(rendered);
    const edits: Array<[RegExp | string, string]> = [
      [/^LISTEN = .*$/m, `LISTEN = ('127.0.0.1', ${frontPort})`],
      [/^UPSTREAM = .*$/m, `UPSTREAM = ('127.0.0.1', ${upstreamPort})`],
      [/^RESOLVER = .*$/m, `RESOLVER = ('127.0.0.1', ${resolverPort})`],
    ];
    let script = rendered.content;
    for (const [from, to] of edits) {
      const next = script.replace(from, to);
      assert.notEqual(next, script, `the script has ${String(from)}`);
      script = next;
    }
    writeFileSync(join(dir, 'sts-front'), script);
    const front = spawn('python3', [join(dir, 'sts-front')], { stdio: ['ignore', 'ignore', 'pipe'] });
    front.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    children.push(front);
    await listening(resolverPort, () => logs);
    await listening(frontPort, () => logs);
  });

  after(async () => {
    for (const c of children) c.kill();
    upstream?.close();
    await knot?.stop();
    for (const k of keys) k.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, string, string]> = [
    ['dane.signed.example', 'OK dane', 'signed MX, its host has signed TLSA records'],
    ['implicit.signed.example', 'OK dane', 'no MX: the domain is its own host, with TLSA records'],
    ['bogus.example', 'OK dane', "TLSA records with a bogus signature (SERVFAIL): Postfix's own lookup defers"],
    ['notlsa.signed.example', 'OK asked postfix notlsa.signed.example', 'signed MX, no TLSA records: MTA-STS decides'],
    ['insecurehost.signed.example', 'OK asked postfix insecurehost.signed.example', "signed MX, its host's address unsigned: no DANE"],
    ['plain.example', 'OK asked postfix plain.example', "unsigned MX (its host's TLSA records do not count)"],
    ['nullmx.signed.example', 'OK asked postfix nullmx.signed.example', 'a null MX'],
    ['missing.signed.example', 'OK asked postfix missing.signed.example', 'no such domain'],
    ['.signed.example', 'OK asked postfix .signed.example', 'a parent-domain key goes on unchanged'],
  ];
  for (const [domain, expected, why] of cases) {
    it(`${domain}: ${why}`, async () => {
      assert.equal(await ask(frontPort, domain), expected, logs);
    });
  }

  it('the next table down: TEMP, so that Postfix defers', async () => {
    upstream?.close();
    await new Promise((r) => upstream?.once('close', r));
    assert.equal(await ask(frontPort, 'notlsa.signed.example'), 'TEMP mta-sts-daemon does not answer');
    assert.equal(await ask(frontPort, 'dane.signed.example'), 'OK dane', 'DANE needs no policy');
  });
});
