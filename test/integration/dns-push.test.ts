// `mailrig dns push` against a real knotd that accepts TSIG-signed updates: creates the records,
// leaves records it does not own alone, a second push sends nothing, a wrong key changes nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCheck, runPush, type DnsIo } from '../../src/cli/dns.js';
import type { Config } from '../../src/config/model.js';
import { RuntimeError } from '../../src/errors.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';
import { newTsigSecret, startKnot, type KnotServer } from '../support/knot.js';

const KEY = 'mailrig-update';
const SECRET = newTsigSecret();
const ZONE = [
  '$ORIGIN example.com.',
  '$TTL 3600',
  '@ SOA ns1.example.invalid. hostmaster.example.com. 1 3600 900 1209600 300',
  '@ NS ns1.example.invalid.',
  '; not mailrig\'s: must survive every push',
  '@ TXT "google-site-verification=keep-me"',
  'www A 192.0.2.80',
  '; mailrig\'s, but wrong: push must fix them',
  '@ MX 20 old-mx.example.net.',
  '@ TXT "v=spf1 include:old.example.net -all"',
  '',
].join('\n');

function project(dir: string, server: string, keyName = KEY): { configPath: string; config: Config; keys: ReturnType<typeof fixtureKeys> } {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10', ssh: 'local', release: 'debian-12' },
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    dns: { provider: 'rfc2136', ttl: 3600, server, key_name: keyName, key_file: 'tsig.key' },
  });
  return { configPath: join(dir, 'mailrig.yaml'), config, keys: fixtureKeys(['example.com']) };
}

describe('dns push against knotd with TSIG', () => {
  let knot: KnotServer;
  let dir: string;
  let out: string;
  const io = (p: ReturnType<typeof project>): DnsIo => ({
    out: (t) => (out += t),
    columns: 100,
    interactive: false,
    confirm: async () => false,
    project: p,
  });
  const serial = async () => (await knot.dig('example.com', 'SOA'))[0]?.split(' ')[2];
  const keyFile = (secret: string) => writeFileSync(join(dir, 'tsig.key'), `key "${KEY}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`);

  before(async () => {
    knot = await startKnot({ zones: [{ origin: 'example.com', text: ZONE }], updateKey: { name: KEY, secret: SECRET } });
    dir = mkdtempSync(join(tmpdir(), 'mailrig-push-'));
  });
  after(async () => {
    await knot?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to push without --yes when there is no terminal, sending nothing', async () => {
    keyFile(SECRET);
    out = '';
    await assert.rejects(runPush({ config: 'unused' }, io(project(dir, knot.address))), /--yes/);
    assert.match(out, /\+ 10 mail\.example\.com\./);
    assert.equal(await serial(), '1');
  });

  it('a wrong secret is refused (NOTAUTH, TSIG BADSIG) and the zone is unchanged', async () => {
    keyFile(newTsigSecret());
    out = '';
    await assert.rejects(runPush({ config: 'unused', yes: true }, io(project(dir, knot.address))), (e: unknown) => {
      assert.ok(e instanceof RuntimeError);
      assert.match(e.message, /NOTAUTH \(TSIG BADSIG\)/);
      return true;
    });
    assert.equal(await serial(), '1');
    assert.deepEqual(await knot.dig('example.com', 'MX'), ['20 old-mx.example.net.']);
  });

  it('an unknown key name is refused (TSIG BADKEY) and the zone is unchanged', async () => {
    writeFileSync(join(dir, 'tsig.key'), `hmac-sha256:nobody:${SECRET}\n`);
    await assert.rejects(runPush({ config: 'unused', yes: true }, io(project(dir, knot.address, 'nobody'))), /BADKEY/);
    assert.equal(await serial(), '1');
  });

  it('creates every record, replaces the wrong ones, keeps the rest', async () => {
    keyFile(SECRET);
    out = '';
    const p = project(dir, knot.address);
    assert.equal(await runPush({ config: 'unused', yes: true }, io(p)), 0);
    assert.match(out, /- 20 old-mx\.example\.net\./);
    assert.match(out, /zone example\.com: updated/);
    assert.deepEqual(await knot.dig('example.com', 'MX'), ['10 mail.example.com.']);
    const txt = (await knot.dig('example.com', 'TXT')).sort();
    assert.deepEqual(txt, ['"google-site-verification=keep-me"', '"v=spf1 mx -all"']);
    assert.deepEqual(await knot.dig('www.example.com', 'A'), ['192.0.2.80']);
    out = '';
    assert.equal(await runCheck({ config: 'unused', check: true, json: true, domain: 'example.com', resolver: knot.address }, io(p)), 0);
    const rows = JSON.parse(out) as Array<{ status: string }>;
    assert.ok(rows.length > 15 && rows.every((r) => r.status === 'ok'), out);
  });

  it('a second push changes nothing and sends nothing', async () => {
    const before = await serial();
    out = '';
    assert.equal(await runPush({ config: 'unused', yes: true }, io(project(dir, knot.address))), 0);
    assert.match(out, /DNS is up to date: nothing to push/);
    assert.equal(await serial(), before);
  });
});
