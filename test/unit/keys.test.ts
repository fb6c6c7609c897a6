// The key store and password hashes, checked by the real tools that will consume them: openssl for
// key types, sizes and the self-signed certificate, Dovecot's doveadm for password hashes.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeyStoreError } from '../../src/errors.js';
import { hashPassword, passwordWeakness, verifyPassword } from '../../src/keys/password.js';
import { ensureKeys, loadKeys, publicKeys } from '../../src/keys/store.js';

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { input, encoding: 'utf8' });

function freshStore(domains = ['example.com', 'xn--bcher-kva.example']) {
  const dir = join(mkdtempSync(join(tmpdir(), 'mailrig-test-')), '.mailrig');
  return { dir, domains, created: ensureKeys(dir, { domains, hostname: 'mail.example.com' }) };
}

describe('password hashes', () => {
  it('are ARGON2ID in Dovecot form, verified by the real doveadm', async () => {
    const hash = await hashPassword('Correct-Horse-Battery-9');
    assert.match(hash, /^\{ARGON2ID\}\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    assert.doesNotMatch(hash, /Correct-Horse/);
    const ok = spawnSync('doveadm', ['pw', '-t', hash, '-p', 'Correct-Horse-Battery-9'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /\(verified\)/);
    const wrong = spawnSync('doveadm', ['pw', '-t', hash, '-p', 'wrong-password-123'], { encoding: 'utf8' });
    assert.notEqual(wrong.status, 0);
    assert.equal(await verifyPassword(hash, 'Correct-Horse-Battery-9'), true);
    assert.equal(await verifyPassword(hash, 'nope'), false);
  });

  it('use a fresh salt each time', async () => {
    assert.notEqual(await hashPassword('same-password-twice'), await hashPassword('same-password-twice'));
  });

  const weak: Array<[string, RegExp | undefined]> = [
    ['short', /shorter than 12/],
    ['passwordpassword', /common/],
    ['aaaaaaaaaaaaaa', /repeats/],
    ['a-long-unusual-passphrase', undefined],
  ];
  for (const [pw, reason] of weak) {
    it(`judges "${pw}" ${reason ? 'weak' : 'acceptable'}`, () => {
      const got = passwordWeakness(pw);
      if (reason) assert.match(got ?? '', reason);
      else assert.equal(got, undefined);
    });
  }
});

describe('key store', () => {
  it('creates DKIM RSA-2048 and Ed25519 keys per domain, TLS P-256 keys, a matching self-signed cert', async () => {
    const { dir, created } = freshStore();
    assert.ok((await created).includes('tls/next.key'));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const keys = loadKeys(dir, ['example.com', 'xn--bcher-kva.example']);
    const rsa = keys.dkim.find((k) => k.domain === 'example.com' && k.algorithm === 'rsa');
    const ed = keys.dkim.find((k) => k.domain === 'example.com' && k.algorithm === 'ed25519');
    assert.ok(rsa && ed);
    assert.match(openssl(['pkey', '-noout', '-text'], rsa.privatePem), /Private-Key: \(2048 bit/);
    assert.match(openssl(['pkey', '-noout', '-text'], ed.privatePem), /ED25519 Private-Key/);
    assert.equal(Buffer.from(ed.publicValue, 'base64').length, 32, 'Ed25519 DKIM p= is the bare 32-byte key');
    for (const k of [keys.tls.current, keys.tls.next]) {
      assert.match(openssl(['pkey', '-noout', '-text'], k.privatePem), /ASN1 OID: prime256v1/);
    }
    assert.notEqual(keys.tls.current.spkiSha256, keys.tls.next.spkiSha256);
    // The TLSA 3 1 1 value is the SHA-256 of the DER SubjectPublicKeyInfo, as openssl computes it.
    const spki = execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: keys.tls.current.privatePem });
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-hex', '-r'], { input: spki, encoding: 'utf8' });
    assert.equal(digest.split(' ')[0], keys.tls.current.spkiSha256);
    // The self-signed certificate is made from the current key and names every web host.
    const certFile = join(dir, 'tls/selfsigned.crt');
    const certPub = openssl(['x509', '-in', certFile, '-noout', '-pubkey']);
    const keyPub = openssl(['pkey', '-pubout'], keys.tls.current.privatePem);
    assert.equal(certPub, keyPub);
    const text = openssl(['x509', '-in', certFile, '-noout', '-text']);
    assert.match(text, /DNS:mail\.example\.com/);
    assert.match(text, /DNS:mta-sts\.xn--bcher-kva\.example/);
    assert.match(text, /TLS Web Server Authentication/);
    assert.equal(publicKeys(keys).tlsa.next, keys.tls.next.spkiSha256);
  });

  it('never regenerates existing keys', async () => {
    const { dir, domains, created } = freshStore(['example.com']);
    await created;
    const before = loadKeys(dir, domains);
    assert.deepEqual(await ensureKeys(dir, { domains, hostname: 'mail.example.com' }), []);
    const after = loadKeys(dir, domains);
    assert.equal(after.tls.current.privatePem, before.tls.current.privatePem);
    assert.deepEqual(
      after.dkim.map((k) => k.privatePem),
      before.dkim.map((k) => k.privatePem),
    );
  });

  it('adds keys for a new domain and remakes the certificate for its names only', async () => {
    const { dir, created } = freshStore(['example.com']);
    await created;
    const made = await ensureKeys(dir, { domains: ['example.com', 'example.net'], hostname: 'mail.example.com' });
    assert.deepEqual(made.filter((f) => f.startsWith('dkim/')).length, 2);
    assert.ok(made.includes('tls/selfsigned.crt'));
    assert.ok(!made.includes('tls/current.key'));
  });

  it('refuses a key store others can enter or read', async () => {
    const { dir, domains, created } = freshStore(['example.com']);
    await created;
    chmodSync(dir, 0o755);
    assert.throws(() => loadKeys(dir, domains), (e) => e instanceof KeyStoreError && /0755.*must be 0700/.test(e.message));
    chmodSync(dir, 0o700);
    chmodSync(join(dir, 'tls/current.key'), 0o644);
    assert.throws(() => loadKeys(dir, domains), (e) => e instanceof KeyStoreError && /current\.key.*0644/.test(e.message));
  });

  it('says which key is missing or broken', async () => {
    const { dir, domains, created } = freshStore(['example.com']);
    await created;
    assert.throws(() => loadKeys(dir, ['example.org']), /no DKIM keys for example\.org/);
    writeFileSync(join(dir, 'tls/next.key'), 'garbage', { mode: 0o600 });
    assert.throws(() => loadKeys(dir, domains), /next\.key: not a private key/);
    assert.ok(readFileSync(join(dir, '.gitignore'), 'utf8').includes('*'));
  });
});
