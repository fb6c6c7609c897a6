// ~/.ssh/config resolution, table-driven, with OpenSSH's own `ssh -G` as the oracle where present.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hostPatternsMatch, matchPattern, parseSshConfig, readSshConfig, resolveSshHost, tokenizeLine } from '../../src/host/sshconfig.js';

const home = '/home/op';
const CONFIG = `
# global defaults come first only if placed before any Host
User globaluser

Host mail mail.example.com
  HostName 203.0.113.10
  Port 2222
  IdentityFile ~/.ssh/mail_ed25519

Host *.example.com !secret.example.com
  User=ops
  IdentityFile "~/.ssh/example key"

Host web?
  HostName %h.internal
  Port 22

Host *
  User fallback
  Port 2200
  IdentityFile ~/.ssh/id_%r
`;

describe('ssh config', () => {
  const lines = parseSshConfig(CONFIG, '/home/op/.ssh/config', { home });
  const cases: [string, { hostName: string; user?: string; port?: number; identityFiles: string[] }][] = [
    ['mail', { hostName: '203.0.113.10', user: 'globaluser', port: 2222, identityFiles: ['/home/op/.ssh/mail_ed25519', '/home/op/.ssh/id_globaluser'] }],
    ['mail.example.com', { hostName: '203.0.113.10', user: 'globaluser', port: 2222,
      identityFiles: ['/home/op/.ssh/mail_ed25519', '/home/op/.ssh/example key', '/home/op/.ssh/id_globaluser'] }],
    ['secret.example.com', { hostName: 'secret.example.com', user: 'globaluser', port: 2200, identityFiles: ['/home/op/.ssh/id_globaluser'] }],
    ['web1', { hostName: 'web1.internal', user: 'globaluser', port: 22, identityFiles: ['/home/op/.ssh/id_globaluser'] }],
    ['web12', { hostName: 'web12', user: 'globaluser', port: 2200, identityFiles: ['/home/op/.ssh/id_globaluser'] }],
    ['MAIL', { hostName: '203.0.113.10', user: 'globaluser', port: 2222, identityFiles: ['/home/op/.ssh/mail_ed25519', '/home/op/.ssh/id_globaluser'] }],
  ];
  for (const [alias, want] of cases) {
    it(`resolves ${alias}: first value wins, IdentityFile accumulates`, () => {
      const got = resolveSshHost(lines, alias, { home });
      assert.deepEqual({ hostName: got.hostName, user: got.user, port: got.port, identityFiles: got.identityFiles }, want);
    });
  }

  it('agrees with ssh -G on HostName, User, Port and IdentityFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrig-sshconfig-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'config');
    writeFileSync(file, CONFIG.replace(/~\//g, `${dir}/`));
    for (const alias of ['mail', 'mail.example.com', 'secret.example.com', 'web1', 'web12']) {
      const g = execFileSync('ssh', ['-G', '-F', file, alias], { encoding: 'utf8' }).split('\n');
      const value = (k: string) => g.filter((l) => l.startsWith(`${k} `)).map((l) => l.slice(k.length + 1));
      const ours = resolveSshHost(readSshConfig(file, { home: dir }), alias, { home: dir });
      assert.equal(ours.hostName, value('hostname')[0], `${alias} hostname`);
      assert.equal(ours.user, value('user')[0], `${alias} user`);
      assert.equal(String(ours.port), value('port')[0], `${alias} port`);
      // ssh -G appends its default identity files after the configured ones, and prints %r unexpanded.
      const theirs = value('identityfile').map((f) => f.replace('%r', ours.user ?? ''));
      assert.deepEqual(ours.identityFiles, theirs.slice(0, ours.identityFiles.length), `${alias} identity files`);
    }
  });

  it('splices Include files in place, relative to ~/.ssh, with a wildcard', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailrig-sshconfig-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, '.ssh/conf.d'), { recursive: true });
    writeFileSync(join(dir, '.ssh/conf.d/10-box.conf'), 'Host box\n  HostName 198.51.100.7\n  User deploy\n');
    writeFileSync(join(dir, '.ssh/config'), 'Include conf.d/*.conf\nHost *\n  User root\n');
    const got = resolveSshHost(readSshConfig(join(dir, '.ssh/config'), { home: dir }), 'box', { home: dir });
    assert.equal(got.hostName, '198.51.100.7');
    assert.equal(got.user, 'deploy');
  });

  it('skips Match blocks and says so, never applying their options', () => {
    const got = resolveSshHost(parseSshConfig('Match user bob\n  User evil\nHost *\n  User good\n', 'cfg'), 'x');
    assert.equal(got.user, 'good');
    assert.match(got.ignored[0] ?? '', /cfg:1: Match blocks are not supported/);
  });

  it('an alias with no config connects to itself', () => {
    assert.deepEqual(resolveSshHost([], 'mail.example.org'), {
      hostName: 'mail.example.org', identityFiles: [], identitiesOnly: false, userKnownHostsFiles: [], ignored: [],
    });
  });
});

describe('ssh patterns and lines', () => {
  const patterns: [string, string, boolean][] = [
    ['*', 'anything', true],
    ['*.example.com', 'mail.example.com', true],
    ['*.example.com', 'example.com', false],
    ['web?', 'web1', true],
    ['web?', 'web12', false],
    ['10.0.0.*', '10.0.0.5', true],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
  ];
  for (const [p, text, want] of patterns) {
    it(`${p} ${want ? 'matches' : 'does not match'} ${text}`, () => assert.equal(matchPattern(p, text), want));
  }
  it('a matching negation vetoes the Host line', () => {
    assert.equal(hostPatternsMatch(['*.example.com', '!db.example.com'], 'db.example.com'), false);
    assert.equal(hostPatternsMatch(['*.example.com', '!db.example.com'], 'mx.example.com'), true);
    assert.equal(hostPatternsMatch(['!db.example.com'], 'mx.example.com'), false);
  });
  it('tokenizes key=value, quotes and trailing comments', () => {
    assert.deepEqual(tokenizeLine('  IdentityFile = "~/my key"  # mine'), { keyword: 'identityfile', args: ['~/my key'] });
    assert.deepEqual(tokenizeLine('Host a b'), { keyword: 'host', args: ['a', 'b'] });
    assert.equal(tokenizeLine('# comment'), undefined);
  });
});
