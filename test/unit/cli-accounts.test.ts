// mailrig user|alias|domain as an operator runs them: exit codes, what is (not) written, --json shapes,
// passwords never shown. Runs the CLI compiled next to this test (main, as bin/mailrig.js calls it)
// in this process, with the project as its working directory and a pipe as its standard input.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { newPassword, type AccountsIo } from '../../src/cli/user.js';
import { FIXTURES, fixtureKeyDir } from '../support/fixtures.js';
import { mailrigInProcess } from '../support/in-process.js';


const BEFORE = readFileSync(join(FIXTURES, 'edit/user-add.before.yaml'), 'utf8');

/** A project: the init-style mailrig.yaml (example.com with alice, bücher.example) and fixture keys. */
function project(): { dir: string; config: string; read: () => string } {
  const dir = dirname(fixtureKeyDir());
  const config = join(dir, 'mailrig.yaml');
  copyFileSync(join(FIXTURES, 'edit/user-add.before.yaml'), config);
  return { dir, config, read: () => readFileSync(config, 'utf8') };
}

function mailrig(dir: string, args: string[], input = '') {
  return mailrigInProcess(args, dir, input, { NO_COLOR: '1' });
}

const PASSWORD = 'correct-horse-battery-9';

describe('mailrig user', () => {
  it('add --password-stdin writes only the new mailbox, with the hash and never the password', async () => {
    const p = project();
    const r = await mailrig(p.dir, ['user', 'add', 'bob@bücher.example', '--password-stdin', '--quota', '5G', '--alias', 'robert,b@example.com'], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Added bob@bücher\.example to mailrig\.yaml/);
    const text = p.read();
    assert.match(text, /\n {4}mailboxes:\n {6}bob:\n {8}password_hash: "\{ARGON2ID\}\$argon2id\$v=19\$m=65536,t=3,p=1\$[^"]+"\n {8}quota: 5G\n {8}aliases: \[robert, b@example\.com\]\n/);
    assert.equal(text.replace(/ {4}mailboxes:\n {6}bob:\n( {8}.*\n)+/, '    mailboxes: {}\n'), BEFORE, 'nothing else changed');
    assert.doesNotMatch(text + r.out + r.err, new RegExp(PASSWORD));
  });

  it('refuses a weak password (exit 2, nothing written) unless --allow-weak', async () => {
    const p = project();
    for (const weak of ['short-pw', 'passwordpassword']) {
      const r = await mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], `${weak}\n`);
      assert.equal(r.code, 2);
      assert.match(r.err, /the password (is shorter than 12 characters|is too easy to guess: .*)[;.].*--allow-weak/);
      assert.equal(p.read(), BEFORE);
    }
    assert.equal((await mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin', '--allow-weak'], 'short-pw\n')).code, 0);
  });

  it('asks for no password without a terminal, and checks the edit before asking', async () => {
    const p = project();
    const r = await mailrig(p.dir, ['user', 'add', 'bob@example.com']);
    assert.equal(r.code, 2);
    assert.match(r.err, /no terminal to ask for the password on; pipe it in with --password-stdin/);
    const exists = await mailrig(p.dir, ['user', 'add', 'alice@example.com']);
    assert.match(exists.err, /alice@example\.com: already a mailbox/);
  });

  it('an edit the rules reject exits 2 with the problems as loading prints them, and writes nothing', async () => {
    const p = project();
    const r = await mailrig(p.dir, ['user', 'rm', 'alice@example.com']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^mailrig: .*mailrig\.yaml: not changed; the edit would leave 4 problems\n/);
    assert.match(r.err, /\n {2}\S*mailrig\.yaml: domains\.example\.com\.aliases\.postmaster: alice@example\.com is neither a mailbox nor an alias/);
    assert.equal(p.read(), BEFORE);
    assert.equal((await mailrig(p.dir, ['user', 'quota', 'alice@example.com', 'lots'])).code, 2);
    assert.equal((await mailrig(p.dir, ['user', 'passwd', 'zed@example.com', '--password-stdin'], `${PASSWORD}\n`)).code, 2);
    assert.equal(p.read(), BEFORE);
  });

  it('passwd and quota change one line each; list shows them (--json for scripts)', async () => {
    const p = project();
    assert.equal((await mailrig(p.dir, ['user', 'passwd', 'alice@example.com', '--password-stdin'], `${PASSWORD}\n`)).code, 0);
    assert.equal((await mailrig(p.dir, ['user', 'quota', 'alice@example.com', '3G'])).code, 0);
    const changed = p.read().split('\n').filter((line, i) => line !== BEFORE.split('\n')[i]);
    assert.equal(changed.length, 2);
    assert.match(changed[0] ?? '', /^ {8}password_hash: "\{ARGON2ID\}/);
    assert.match(changed[1] ?? '', /^ {8}quota: 3G +# default: mail\.default_quota$/);
    assert.match((await mailrig(p.dir, ['user', 'list', '--no-usage'])).out, /^ADDRESS +QUOTA +ALIASES +NOTES\nalice@example\.com +3G +- *\n$/);
    const json = JSON.parse((await mailrig(p.dir, ['user', 'list', '--no-usage', '--json'])).out) as unknown;
    assert.deepEqual(json, [
      { address: 'alice@example.com', unicode: 'alice@example.com', domain: 'example.com', quota: 3 * 1024 ** 3, quotaFromDefault: false, aliases: [], sendOnly: false },
    ]);
    assert.deepEqual(JSON.parse((await mailrig(p.dir, ['user', 'list', '--no-usage', '--json', '--domain', 'bücher.example'])).out), []);
  });

  it('rm --purge needs confirmation, records the request for apply, and a re-add cancels it', async () => {
    const p = project();
    assert.equal((await mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], `${PASSWORD}\n`)).code, 0);
    const withBob = p.read();
    const refused = await mailrig(p.dir, ['user', 'rm', 'bob@example.com', '--purge']);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /--purge deletes stored mail for good: add --yes/);
    assert.equal(p.read(), withBob);
    const pending = join(p.dir, '.mailrig/pending.json');
    assert.ok(!existsSync(pending));
    const r = await mailrig(p.dir, ['user', 'rm', 'bob@example.com', '--purge', '--yes']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /deleted on the server at apply time/);
    assert.equal(p.read(), BEFORE);
    assert.deepEqual((JSON.parse(readFileSync(pending, 'utf8')) as { purge: Array<{ address: string }> }).purge.map((x) => x.address), ['bob@example.com']);
    const again = await mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], `${PASSWORD}\n`);
    assert.match(again.out, /Cancelled the pending deletion of bob@example\.com's stored mail/);
    assert.deepEqual(JSON.parse(readFileSync(pending, 'utf8')), { purge: [] });
  });

  it('types the password twice on a terminal, hidden, and re-asks a weak one', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.end = (() => output) as typeof output.end;
    let shown = '';
    const script: Array<[RegExp, string]> = [
      [/Password for bob@example\.com/, 'weak\r'],
      [/shorter than 12/, `${'\x7f'.repeat(4)}${PASSWORD}\r`],
      [/same password again/, `${PASSWORD}\r`],
    ];
    output.on('data', (chunk: Buffer) => {
      shown += chunk.toString('utf8');
      const next = script[0];
      if (next && next[0].test(shown)) {
        script.shift();
        shown = '';
        setImmediate(() => input.write(next[1]));
      }
    });
    const io: AccountsIo = { out: () => {}, input, output, interactive: true, confirm: async () => false, now: () => new Date() };
    assert.equal(await newPassword({}, io, 'bob@example.com'), PASSWORD);
    assert.equal(script.length, 0);
  });
});

describe('mailrig alias', () => {
  it('add, add more targets, list --json, rm', async () => {
    const p = project();
    assert.equal((await mailrig(p.dir, ['alias', 'add', 'sales@example.com', 'alice'])).code, 0);
    const more = await mailrig(p.dir, ['alias', 'add', 'sales@example.com', 'alice@example.com', 'partner@example.org']);
    assert.match(more.out, /sales@example\.com now delivers to alice@example\.com, partner@example\.org/);
    assert.match(p.read(), /\n {6}sales: \[alice, partner@example\.org\]\n/);
    assert.match((await mailrig(p.dir, ['alias', 'add', 'sales@example.com', 'alice'])).out, /nothing changed/);
    const rows = JSON.parse((await mailrig(p.dir, ['alias', 'list', '--json'])).out) as Array<{ address: string; unicode: string; targets: string[]; kind: string }>;
    assert.deepEqual(rows.find((r) => r.address === 'sales@example.com'), {
      address: 'sales@example.com',
      unicode: 'sales@example.com',
      targets: ['alice@example.com', 'partner@example.org'],
      kind: 'alias',
    });
    assert.deepEqual(rows.find((r) => r.address === 'postmaster@xn--bcher-kva.example')?.unicode, 'postmaster@bücher.example');
    assert.equal((await mailrig(p.dir, ['alias', 'rm', 'sales@example.com'])).code, 0);
    assert.equal(p.read(), BEFORE);
    assert.equal((await mailrig(p.dir, ['alias', 'rm', 'sales@example.com'])).code, 2);
    assert.equal((await mailrig(p.dir, ['alias', 'add', 'x@example.com', 'nobody'])).code, 2, 'a target that does not exist');
    assert.equal(p.read(), BEFORE);
  });
});

describe('mailrig domain', () => {
  it('add makes DKIM keys and prints the records to add; rm keeps the keys', async () => {
    const p = project();
    const r = await mailrig(p.dir, ['domain', 'add', 'straße.example']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Created its DKIM keys in \.mailrig\/: dkim\/xn--strae-oqa\.example\/r\d{8}\.pem/);
    assert.match(r.out, /DNS records to add \(\d+\):/);
    assert.match(r.out, /Zone xn--strae-oqa\.example \(straße\.example\)/);
    assert.match(r.out, /r\d{8}\._domainkey +TXT +v=DKIM1; k=rsa/);
    // example.com receives the new domain's DMARC reports (admin_email), so it must say it accepts them.
    assert.match(r.out, /Zone example\.com .*\n {2}xn--strae-oqa\.example\._report\._dmarc +TXT +v=DMARC1\n.*\n\nZone xn--strae-oqa/);
    assert.doesNotMatch(r.out, /Zone xn--bcher-kva\.example/, 'no record of the other zones changes');
    assert.match(p.read(), /\n {2}straße\.example:\n {4}mailboxes: \{\}\n {4}aliases:\n {6}postmaster: alice@example\.com\n/);
    const list = JSON.parse((await mailrig(p.dir, ['domain', 'list', '--json'])).out) as Array<{ domain: string; unicode: string; mailboxes: number; dkim: { rotation: string; selectors: unknown[] } }>;
    assert.deepEqual(list.map((d) => [d.domain, d.unicode, d.mailboxes, d.dkim.rotation, d.dkim.selectors.length]), [
      ['example.com', 'example.com', 1, 'idle', 2],
      ['xn--bcher-kva.example', 'bücher.example', 0, 'idle', 2],
      ['xn--strae-oqa.example', 'straße.example', 0, 'idle', 2],
    ]);
    const rm = await mailrig(p.dir, ['domain', 'rm', 'straße.example']);
    assert.equal(rm.code, 0, rm.err);
    assert.match(rm.out, /DKIM keys stay in \.mailrig\/dkim\/xn--strae-oqa\.example\//);
    assert.equal(p.read(), BEFORE);
    assert.ok(existsSync(join(p.dir, '.mailrig/dkim/xn--strae-oqa.example')));
  });

  it('rm refuses a domain with mailboxes unless --force', async () => {
    const p = project();
    assert.equal((await mailrig(p.dir, ['user', 'add', 'bob@bücher.example', '--password-stdin'], `${PASSWORD}\n`)).code, 0);
    const withBob = p.read();
    const r = await mailrig(p.dir, ['domain', 'rm', 'xn--bcher-kva.example']);
    assert.equal(r.code, 2);
    assert.match(r.err, /bücher\.example still has 1 mailbox \(bob@bücher\.example\).*--force/);
    assert.equal(p.read(), withBob);
    const forced = await mailrig(p.dir, ['domain', 'rm', 'bücher.example', '--force']);
    assert.equal(forced.code, 0, forced.err);
    assert.match(forced.out, /their stored mail stays on the server/);
    assert.doesNotMatch(p.read(), /bücher/);
  });
});
