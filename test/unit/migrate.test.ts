// mailrig migrate's pieces that need no host: the --from URL, the CSV of --all, the per-release
// imapc settings (the password quoted, never on a command line) and the script that carries them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkLogin, migrationScript, migrationSettings, parseCsv, parseMessageCount, parseSource } from '../../src/cli/migrate.js';
import { UsageError } from '../../src/errors.js';
import { configFrom, TEST_HASH } from '../support/fixtures.js';

const config = configFrom({
  server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
  admin_email: 'admin@example.com',
  domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH }, bob: { password_hash: TEST_HASH } } } },
});

describe('migrate --from', () => {
  it('reads imaps:// and imap:// (STARTTLS) with default and given ports', () => {
    assert.deepEqual(parseSource('imaps://IMAP.old.example'), { host: 'imap.old.example', port: 993, tls: 'imaps' });
    assert.deepEqual(parseSource('imaps://imap.old.example:1993'), { host: 'imap.old.example', port: 1993, tls: 'imaps' });
    assert.deepEqual(parseSource('imap://10.0.0.5'), { host: '10.0.0.5', port: 143, tls: 'starttls' });
    assert.deepEqual(parseSource('imaps://[2001:db8::1]:993'), { host: '2001:db8::1', port: 993, tls: 'imaps' });
  });

  it('refuses anything else, naming --from', () => {
    for (const bad of ['https://old.example', 'imaps://', 'imaps://old.example:0', 'imaps://old.example:70000', 'imaps://a b', 'old.example', 'imaps://user@old.example']) {
      assert.throws(() => parseSource(bad), (e: Error) => e instanceof UsageError && e.message.startsWith(`--from ${bad}:`), bad);
    }
  });
});

describe('migrate --all', () => {
  it('reads address,login rows, with a header and comments', () => {
    const rows = parseCsv('address,login\n# the boss\nAlice@example.com, alice.old\n\nbob@example.com,bob\n', 'users.csv', config);
    assert.deepEqual(rows, [
      { address: 'alice@example.com', login: 'alice.old' },
      { address: 'bob@example.com', login: 'bob' },
    ]);
  });

  it('names the file and line of a bad row', () => {
    assert.throws(() => parseCsv('alice@example.com\n', 'u.csv', config), /u\.csv line 1: expected address,login/);
    assert.throws(() => parseCsv('alice@example.com,a,secret\n', 'u.csv', config), /u\.csv line 1: expected address,login/);
    assert.throws(() => parseCsv('alice@example.com,a\ncarol@example.com,c\n', 'u.csv', config), /u\.csv line 2: carol@example\.com: no such mailbox/);
    assert.throws(() => parseCsv('# nothing\n', 'u.csv', config), /no address,login rows/);
    assert.throws(() => checkLogin('a\tb', '--user'), /--user: one line/);
  });
});

describe('migrate settings and script', () => {
  const source = { host: 'imap.old.example', port: 993, tls: 'imaps' as const };

  it('spells the imapc settings per release, verifying the certificate, the password quoted', () => {
    const d12 = migrationSettings('debian-12', source, 'alice', 'pa"ss\\word');
    assert.match(d12, /^!include \/etc\/dovecot\/dovecot\.conf$/m);
    assert.match(d12, /^imapc_password = "pa\\"ss\\\\word"$/m);
    assert.match(d12, /^imapc_ssl = imaps$/m);
    assert.match(d12, /^imapc_ssl_verify = yes$/m);
    const d13 = migrationSettings('debian-13', source, 'alice', 'secret');
    assert.match(d13, /^ssl_client_require_valid_cert = yes$/m);
    assert.doesNotMatch(d13, /imapc_ssl_verify|imapc_features/);
  });

  it('carries the settings on standard input into a private directory removed at the end; the password is not on a command line', () => {
    const script = migrationScript('alice@example.com', migrationSettings('debian-12', source, 'alice', 'S3cret-$HOME'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assert.match(script, /^umask 077$/m);
    assert.match(script, /mktemp -d \/run\/mailrig-migrate\.XXXXXX/);
    assert.match(script, /trap 'rm -rf "\$dir"' EXIT/);
    assert.match(script, /<<'MAILRIG_END'\n(.*\n)*imapc_password = "S3cret-\$HOME"\n/);
    assert.match(script, /ssl_client_ca_file = \$dir\/ca\/ca\.pem/);
    const doveadm = script.split('\n').find((l) => l.startsWith('doveadm '));
    assert.equal(doveadm, `doveadm -c "$dir/migrate.conf" sync -1 -R -u 'alice@example.com' imapc: &`);
  });

  it('stopped while dsync hangs on a silent server: asked to stop, then killed; the run ends and its directory goes', async () => {
    // A doveadm that ignores TERM, as one blocked on a server that stopped answering does in effect.
    const bin = mkdtempSync(join(tmpdir(), 'mailrig-migrate-bin-'));
    writeFileSync(join(bin, 'doveadm'), "#!/bin/sh\ntrap '' TERM\nexec sleep 120\n", { mode: 0o755 });
    const before = new Set(readdirSync('/run').filter((f) => f.startsWith('mailrig-migrate.')));
    const child = spawn('sh', ['-s'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['pipe', 'ignore', 'ignore'] });
    let exited = false;
    const ended = new Promise<number | null>((r) => child.on('close', (code) => ((exited = true), r(code))));
    child.stdin.end(migrationScript('a@example.com', migrationSettings('debian-13', source, 'a', 'secret'), undefined));
    try {
      // The event: the run's pid file written (the script writes it once dsync runs).
      let pid = 0;
      for (let i = 0; pid <= 0; i++) {
        assert.ok(!exited, 'the script ended before it ran dsync');
        assert.ok(i < 600, 'the script wrote its pid file within 30 s');
        const dir = readdirSync('/run').find((f) => f.startsWith('mailrig-migrate.') && !before.has(f));
        pid = dir && existsSync(`/run/${dir}/pid`) ? Number(readFileSync(`/run/${dir}/pid`, 'utf8').trim() || 0) : 0;
        if (pid <= 0) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(pid, child.pid, 'the pid file names the script itself');
      const dir = readdirSync('/run').find((f) => f.startsWith('mailrig-migrate.') && !before.has(f));
      process.kill(pid, 'SIGTERM');
      assert.notEqual(await ended, 0);
      assert.equal(existsSync(`/run/${dir}`), false, 'the settings directory is gone');
    } finally {
      child.kill('SIGKILL');
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('a password holding the end marker does not end the settings early', () => {
    const script = migrationScript('a@example.com', migrationSettings('debian-13', source, 'a', 'x\nMAILRIG_END'), undefined);
    assert.match(script, /<<'MAILRIG_END_'/);
  });

  it('counts the messages doveadm mailbox status lists', () => {
    assert.equal(parseMessageCount('INBOX messages=12\nArchive/2024 messages=3\nJunk messages=0\n'), 15);
    assert.equal(parseMessageCount('error\n'), undefined);
  });
});
