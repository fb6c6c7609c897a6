// The mailrig command as an operator runs it: exit codes, messages, and what is (not) written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';

const BIN = join(PROJECT_ROOT, 'bin/mailrig.js');

function mailrig(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const INIT = [
  'init',
  '--non-interactive',
  '--domain',
  'example.com',
  '--domain',
  'bücher.example',
  '--ipv4',
  '203.0.113.10',
  '--release',
  'debian-13',
  '--mailbox',
  'alice@example.com',
  '--password-stdin',
  '--acme',
  'self-signed',
];

describe('mailrig CLI', () => {
  it('--help lists the commands and loads neither ssh2, acme-client nor the template engine', () => {
    const log = join(scratchDir('mailrig-cli-'), 'imports.log');
    const r = spawnSync(
      process.execPath,
      ['--import', join(PROJECT_ROOT, 'test/support/record-imports.mjs'), BIN, '--help'],
      { encoding: 'utf8', env: { ...process.env, MAILRIG_IMPORT_LOG: log } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /init\b/);
    assert.match(r.stdout, /render\b/);
    const imports = readFileSync(log, 'utf8');
    assert.match(imports, /commander/, 'the import log works');
    for (const heavy of ['ssh2', 'acme-client', 'handlebars', 'inquirer', 'hash-wasm', 'zod', 'yaml']) {
      assert.doesNotMatch(imports, new RegExp(`node_modules/${heavy}/`), `${heavy} loaded by --help`);
    }
  });

  it('an unknown command or flag exits 2', () => {
    assert.equal(mailrig(['frobnicate']).code, 2);
    assert.equal(mailrig(['init', '--no-such-flag']).code, 2);
  });

  it('init --non-interactive writes mailrig.yaml, the schema and a private key store', () => {
    const dir = scratchDir('mailrig-cli-');
    const r = mailrig(INIT, { cwd: dir, input: 'a-long-enough-password\n' });
    assert.equal(r.code, 0, r.err);
    const text = readFileSync(join(dir, 'mailrig.yaml'), 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=\.\/mailrig\.schema\.json/);
    assert.match(text, /hostname: mail\.example\.com/);
    assert.match(text, /password_hash: "\{ARGON2ID\}\$argon2id\$/);
    assert.match(text, /bücher\.example:/, 'IDN domains are kept in Unicode in the file');
    assert.doesNotMatch(text + r.out + r.err, /a-long-enough-password/, 'the password is never written or printed');
    assert.ok(existsSync(join(dir, 'mailrig.schema.json')));
    const store = join(dir, '.mailrig');
    assert.equal(statSync(store).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(store, 'dkim')).sort(), ['example.com', 'xn--bcher-kva.example']);
    assert.equal(statSync(join(store, 'tls/current.key')).mode & 0o777, 0o600);
  });

  it('init refuses to replace a config without --force, --force never drops mailboxes, and keeps the keys', () => {
    const dir = scratchDir('mailrig-cli-');
    assert.equal(mailrig(INIT, { cwd: dir, input: 'a-long-enough-password\n' }).code, 0);
    const key = readFileSync(join(dir, '.mailrig/tls/current.key'), 'utf8');
    const again = mailrig(INIT, { cwd: dir, input: 'a-long-enough-password\n' });
    assert.equal(again.code, 2);
    assert.match(again.err, /mailrig\.yaml: already exists; use --force/);
    const first = readFileSync(join(dir, 'mailrig.yaml'), 'utf8');
    const refused = mailrig([...INIT, '--force'], { cwd: dir, input: 'another-long-password\n' });
    assert.equal(refused.code, 2);
    assert.match(refused.err, /mailrig\.yaml: has 1 mailbox \(\S+@\S+\) that init --force would delete with their passwords; nothing was changed/);
    assert.match(refused.err, /mv \S*mailrig\.yaml \S*mailrig\.yaml\.old/);
    assert.equal(readFileSync(join(dir, 'mailrig.yaml'), 'utf8'), first);
    writeFileSync(join(dir, 'mailrig.yaml'), 'server: [not, what, mailrig, wrote]\n');
    const forced = mailrig([...INIT, '--force'], { cwd: dir, input: 'another-long-password\n' });
    assert.equal(forced.code, 0, forced.err);
    assert.equal(readFileSync(join(dir, '.mailrig/tls/current.key'), 'utf8'), key);
    assert.match(forced.out, /kept the existing keys/);
  });

  const failures: Array<{ name: string; args: string[]; input: string; says: RegExp }> = [
    { name: 'a missing answer', args: INIT.filter((a) => a !== '--password-stdin'), input: '', says: /needs --password-stdin/ },
    { name: 'a bad flag value', args: [...INIT, '--hostname', 'mail'], input: 'a-long-enough-password\n', says: /--hostname: "mail"/ },
    { name: 'a weak password', args: INIT, input: 'short\n', says: /shorter than 12/ },
    { name: 'no terminal and no --non-interactive', args: ['init'], input: '', says: /no terminal .* --non-interactive/ },
  ];
  for (const f of failures) {
    it(`init with ${f.name} exits 2 and writes nothing`, () => {
      const dir = scratchDir('mailrig-cli-');
      const r = mailrig(f.args, { cwd: dir, input: f.input });
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, f.says);
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('a broken mailrig.yaml is reported with every problem and exit 2', () => {
    const dir = scratchDir('mailrig-cli-');
    assert.equal(mailrig(INIT, { cwd: dir, input: 'a-long-enough-password\n' }).code, 0);
    const path = join(dir, 'mailrig.yaml');
    writeFileSync(
      path,
      readFileSync(path, 'utf8').replace('hostname: mail.example.com', 'hostname: mail').replace('ttl: 3600', 'ttl: 3600\n  tll: 5'),
    );
    const out = join(dir, 'out');
    const r = mailrig(['render', '--out', out], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /mailrig\.yaml:\d+:\d+: server\.hostname: is not a fully qualified/);
    assert.match(r.err, /dns\.tll: unknown key "tll" \(did you mean "ttl"\?\)/);
    assert.equal(existsSync(out), false);
  });

  it('a missing config file names the file and exits 2', () => {
    const dir = scratchDir('mailrig-cli-');
    const r = mailrig(['render', '--out', join(dir, 'out'), '--config', 'nope.yaml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /nope\.yaml: no such file; create it with mailrig init/);
  });
});
