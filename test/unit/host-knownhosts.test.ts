// known_hosts matching, with OpenSSH's ssh-keygen making the keys, the hashed entries and the
// fingerprints we must agree with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  appendKnownHost, checkHostKey, fingerprint, hostFieldMatches, knownHostsName, knownKeyTypes, parseKnownHosts, verifyHostKey,
} from '../../src/host/knownhosts.js';
import { HostKeyChangedError, HostKeyUnknownError } from '../../src/host/transport.js';

const dir = mkdtempSync(join(tmpdir(), 'mailrig-knownhosts-'));
function newKey(name: string, type = 'ed25519') {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', file]);
  const [keyType = '', b64 = ''] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { keyType, b64, blob: Buffer.from(b64, 'base64'), fp, line: `${keyType} ${b64}` };
}
const a = newKey('a');
const b = newKey('b');
const c = newKey('c', 'ecdsa');

describe('known_hosts', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('fingerprints like ssh-keygen -l', () => {
    assert.equal(fingerprint(a.blob), a.fp);
    assert.equal(fingerprint(c.blob), c.fp);
  });

  it('names non-standard ports [host]:port', () => {
    assert.equal(knownHostsName('mail.example.com', 22), 'mail.example.com');
    assert.equal(knownHostsName('203.0.113.10', 2222), '[203.0.113.10]:2222');
    assert.equal(knownHostsName('2001:db8::10', 2222), '[2001:db8::10]:2222');
  });

  const text = [
    '# comment',
    `mail.example.com,203.0.113.10 ${a.line}`,
    `[203.0.113.10]:2222 ${b.line}`,
    `*.example.org,!db.example.org ${a.line}`,
    `@revoked old.example.com ${b.line}`,
    `@cert-authority *.example.com ${c.line}`,
    'garbage',
  ].join('\n');
  const entries = parseKnownHosts(text);

  const cases: [string, Buffer, string][] = [
    ['mail.example.com', a.blob, 'known'],
    ['MAIL.example.com', a.blob, 'known'],
    ['203.0.113.10', a.blob, 'known'],
    ['[203.0.113.10]:2222', b.blob, 'known'],
    ['[203.0.113.10]:2222', a.blob, 'changed'],
    ['mail.example.com', b.blob, 'changed'],
    ['mail.example.com', c.blob, 'unknown'], // another key type: not a change, ask (as OpenSSH does)
    ['x.example.org', a.blob, 'known'],
    ['db.example.org', a.blob, 'unknown'],
    ['old.example.com', b.blob, 'revoked'],
    ['new.example.net', a.blob, 'unknown'],
  ];
  for (const [name, key, status] of cases) {
    it(`${name} offering ${key === a.blob ? 'key a' : key === b.blob ? 'key b' : 'an ecdsa key'} is ${status}`, () => {
      assert.equal(checkHostKey(entries, name, key).status, status);
    });
  }

  it('reports the other key types known for a host, and orders algorithms by them', () => {
    assert.deepEqual(checkHostKey(entries, 'mail.example.com', c.blob), { status: 'unknown', otherTypes: ['ssh-ed25519'] });
    assert.deepEqual(knownKeyTypes(entries, '203.0.113.10'), ['ssh-ed25519']);
  });

  it('matches entries hashed by ssh-keygen -H, plain and with a port', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `mail.example.com ${a.line}\n[mail.example.com]:2222 ${b.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = parseKnownHosts(readFileSync(file, 'utf8'));
    assert.ok(hashed.every((e) => e.patterns.startsWith('|1|')));
    assert.equal(checkHostKey(hashed, 'mail.example.com', a.blob).status, 'known');
    assert.equal(checkHostKey(hashed, '[mail.example.com]:2222', b.blob).status, 'known');
    assert.equal(checkHostKey(hashed, 'mail.example.com', b.blob).status, 'changed');
    assert.equal(checkHostKey(hashed, 'other.example.com', a.blob).status, 'unknown');
    assert.equal(hostFieldMatches(hashed[0]?.patterns ?? '', 'mail.example.co'), false);
  });

  it('appends accepted keys in a form ssh-keygen -F finds, fixing a missing final newline', async () => {
    const file = join(dir, 'append');
    writeFileSync(file, `other.example.com ${c.line}`); // no newline at the end
    await appendKnownHost(file, '[203.0.113.10]:2222', a.blob);
    const found = execFileSync('ssh-keygen', ['-F', '[203.0.113.10]:2222', '-f', file], { encoding: 'utf8' });
    assert.match(found, new RegExp(`\\[203\\.0\\.113\\.10\\]:2222 ssh-ed25519 ${a.b64.slice(0, 20)}`));
    assert.equal(parseKnownHosts(readFileSync(file, 'utf8')).length, 2);
  });

  it('verifyHostKey: changed → both fingerprints; unknown → asks, records on yes', async () => {
    const file = join(dir, 'policy');
    writeFileSync(file, `203.0.113.10 ${a.line}\n`);
    await verifyHostKey({ knownHostsFile: file }, '203.0.113.10', 22, a.blob);
    await assert.rejects(verifyHostKey({ knownHostsFile: file }, '203.0.113.10', 22, b.blob), (err: unknown) =>
      err instanceof HostKeyChangedError && err.message.includes(a.fp ?? '?') && err.message.includes(b.fp ?? '?'));
    await assert.rejects(verifyHostKey({ knownHostsFile: file }, '203.0.113.11', 22, b.blob), HostKeyUnknownError);
    const asked: string[] = [];
    await verifyHostKey({ knownHostsFile: file, confirmHostKey: async (q) => (asked.push(`${q.host} ${q.fingerprint}`), true) }, '203.0.113.11', 22, b.blob);
    assert.deepEqual(asked, [`203.0.113.11 ${b.fp}`]);
    await verifyHostKey({ knownHostsFile: file }, '203.0.113.11', 22, b.blob);
  });
});
