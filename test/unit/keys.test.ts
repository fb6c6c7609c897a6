// The key store and password hashes, checked by the real tools that will consume them: openssl for
// key types, sizes and the self-signed certificate, Dovecot's doveadm for password hashes.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { KeyStoreError } from '../../src/errors.js';
import { createAtomic, writeAtomic } from '../../src/fs/atomic.js';
import { hashPassword, passwordWeakness, verifyPassword } from '../../src/keys/password.js';
import { rspamdPasswordHash, verifyRspamdPassword } from '../../src/keys/rspamd-password.js';
import { dkimPublicValue, ensureKeys, generateKey, generateSelectorKeys, loadKeys, publicKeys, readKeysFile, spkiSha256, type KeysFile } from '../../src/keys/store.js';
import { ed25519OpenSsh } from '../../src/keys/replication.js';
import { rollKeys } from '../../src/tls/rollover.js';
import { FIXTURES, fixtureKeyDir } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { input, encoding: 'utf8' });

function freshStore(domains = ['example.com', 'xn--bcher-kva.example']) {
  const dir = join(scratchDir('mailrig-test-'), '.mailrig');
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
    ['passwordpassword', /too easy to guess: it repeats a group of characters/],
    ['aaaaaaaaaaaaaa', /repeats a character/],
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

const fingerprint = (pem: string) => createHash('sha256').update(pem).digest('hex');
const keysJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as KeysFile;
const FIXTURE_DOMAINS = ['example.com', 'example.net'];

describe('key store: public values', () => {
  it('derives the public values of a store that has none once, keeps them in keys.json, then reads them', () => {
    const dir = fixtureKeyDir(); // written before public values were kept
    assert.equal(keysJson(dir).public, undefined);
    const first = loadKeys(dir, FIXTURE_DOMAINS);
    const stored = keysJson(dir).public ?? {};
    for (const k of first.dkim) {
      const expected = dkimPublicValue(createPublicKey(k.privatePem));
      assert.equal(k.publicValue, expected);
      assert.equal(stored[fingerprint(k.privatePem)]?.dkim, expected);
    }
    for (const t of [first.tls.current, first.tls.next]) {
      assert.equal(t.spkiSha256, spkiSha256(createPublicKey(t.privatePem)));
      assert.equal(stored[fingerprint(t.privatePem)]?.spkiSha256, t.spkiSha256);
    }
    assert.doesNotMatch(readFileSync(join(dir, 'keys.json'), 'utf8'), /PRIVATE KEY/);
    assert.equal(statSync(join(dir, 'keys.json')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(keysJson(dir).dkim, JSON.parse(readFileSync(join(FIXTURES, 'keystore/keys.json'), 'utf8')).dkim);

    // What a later run uses is what keys.json says, not a value derived again from the private key.
    const index = keysJson(dir);
    const rsa = first.dkim.find((k) => k.domain === 'example.com' && k.algorithm === 'rsa');
    const entry = rsa && index.public?.[fingerprint(rsa.privatePem)];
    assert.ok(entry);
    entry.dkim = 'as-stored';
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(index));
    const before = readFileSync(join(dir, 'keys.json'), 'utf8');
    const second = loadKeys(dir, FIXTURE_DOMAINS);
    assert.equal(second.dkim.find((k) => k.selector === rsa?.selector && k.domain === 'example.com')?.publicValue, 'as-stored');
    assert.equal(readFileSync(join(dir, 'keys.json'), 'utf8'), before, 'nothing to record: keys.json is not rewritten');
    assert.deepEqual(publicKeys(second).tlsa, publicKeys(first).tlsa);
  });

  it('derives the values again for a key replaced by hand', () => {
    const dir = fixtureKeyDir();
    const old = loadKeys(dir, FIXTURE_DOMAINS).tls.next.spkiSha256;
    const replacement = generateKey('ec');
    writeFileSync(join(dir, 'tls/next.key'), replacement.pem, { mode: 0o600 });
    const now = loadKeys(dir, FIXTURE_DOMAINS).tls.next.spkiSha256;
    assert.notEqual(now, old);
    assert.equal(now, spkiSha256(createPublicKey(replacement.pem)));
    assert.equal(keysJson(dir).public?.[fingerprint(replacement.pem)]?.spkiSha256, now);
  });

  it('records the public values of the keys it makes, when it makes them', async () => {
    const { dir, created } = freshStore(['example.com']);
    await created;
    const stored = keysJson(dir).public ?? {};
    const pems = ['tls/current.key', 'tls/next.key', 'acme/account.key', ...readdirSync(join(dir, 'dkim/example.com')).map((f) => `dkim/example.com/${f}`)];
    for (const file of pems) {
      const pem = readFileSync(join(dir, file), 'utf8');
      const values = stored[fingerprint(pem)];
      assert.equal(values?.spkiSha256, spkiSha256(createPublicKey(pem)), file);
      if (file.startsWith('dkim/')) assert.equal(values?.dkim, dkimPublicValue(createPublicKey(pem)), file);
    }
    // A rotation's new selectors are recorded the same way, beside what keys.json already holds.
    const files = generateSelectorKeys(dir, 'example.com', [{ selector: 'e20990101', algorithm: 'ed25519' }]);
    const pem = readFileSync(join(dir, files[0] ?? ''), 'utf8');
    assert.equal(readKeysFile(dir).public?.[fingerprint(pem)]?.dkim, dkimPublicValue(createPublicKey(pem)));
    assert.equal(Object.keys(readKeysFile(dir).public ?? {}).length, pems.length + 1);
    assert.ok(readKeysFile(dir).dkim['example.com']?.length);
  });

  it('keeps the TLSA values right through a key rollover', async () => {
    const dir = fixtureKeyDir();
    const before = loadKeys(dir, FIXTURE_DOMAINS);
    await rollKeys(dir, ['mail.example.com']);
    const after = loadKeys(dir, FIXTURE_DOMAINS);
    assert.equal(after.tls.current.spkiSha256, before.tls.next.spkiSha256);
    assert.equal(after.tls.next.spkiSha256, spkiSha256(createPublicKey(after.tls.next.privatePem)));
    assert.notEqual(after.tls.next.spkiSha256, before.tls.next.spkiSha256);
  });

  it('keeps the rspamd controller hash beside the password, made once', () => {
    const dir = fixtureKeyDir();
    rmSync(join(dir, 'secrets/rspamd-controller.hash'));
    const keys = loadKeys(dir, FIXTURE_DOMAINS);
    assert.equal(keys.rspamdControllerHash, rspamdPasswordHash(keys.rspamdControllerPassword));
    assert.ok(verifyRspamdPassword(keys.rspamdControllerHash, keys.rspamdControllerPassword));
    const file = join(dir, 'secrets/rspamd-controller.hash');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // Read, not made again: a stored hash for the same password is used as it is.
    const [tag] = readFileSync(file, 'utf8').split(' ');
    writeFileSync(file, `${tag} $2$stored$hash\n`);
    assert.equal(loadKeys(dir, FIXTURE_DOMAINS).rspamdControllerHash, '$2$stored$hash');
    // A password changed by hand gets a hash of its own.
    writeFileSync(join(dir, 'secrets/rspamd-controller'), 'a-new-controller-password\n');
    assert.equal(loadKeys(dir, FIXTURE_DOMAINS).rspamdControllerHash, rspamdPasswordHash('a-new-controller-password'));
  });
});

describe('atomic writes', () => {
  const made: string[] = [];
  const scratch = () => {
    const dir = scratchDir('mailrig-atomic-');
    made.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  it('replace a file whole, keeping its mode, and leave no temporary file', () => {
    const dir = scratch();
    const file = join(dir, 'keys.json');
    writeFileSync(file, 'old', { mode: 0o600 });
    chmodSync(file, 0o600);
    writeAtomic(file, 'new', 0o644);
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    writeAtomic(join(dir, 'fresh'), 'x', 0o640);
    assert.equal(statSync(join(dir, 'fresh')).mode & 0o777, 0o640);
    assert.deepEqual(leftovers(dir), []);
  });

  it('write through a symlink, which stays one', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'real.yaml'), 'a');
    symlinkSync(join(dir, 'real.yaml'), join(dir, 'link.yaml'));
    writeAtomic(join(dir, 'link.yaml'), 'b');
    assert.equal(readFileSync(join(dir, 'real.yaml'), 'utf8'), 'b');
    assert.ok(readdirSync(dir).includes('link.yaml'));
  });

  it('create a file that must not exist, never replacing one', () => {
    const dir = scratch();
    const file = join(dir, 'account.key');
    createAtomic(file, 'first', 0o600);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.throws(() => createAtomic(file, 'second', 0o600), (e) => (e as NodeJS.ErrnoException).code === 'EEXIST');
    assert.equal(readFileSync(file, 'utf8'), 'first');
    assert.deepEqual(leftovers(dir), []);
  });

  it('leave what was there, and no temporary file, when the last step fails', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'other'), 'x');
    // A non-empty directory cannot be replaced by a file: the rename fails after the text is written.
    assert.throws(() => writeAtomic(dir, 'new'));
    assert.throws(() => createAtomic(dir, 'new', 0o600), (e) => (e as NodeJS.ErrnoException).code === 'EEXIST');
    assert.deepEqual(readdirSync(dir).sort(), ['other']);
    assert.deepEqual(leftovers(join(dir, '..')).filter((f) => f.includes('mailrig-atomic')), []);
  });
});

describe('the replication key pair', () => {
  it('every pair made is read back by ssh2 and by OpenSSH, the public line matching the private key', () => {
    // ssh2's own generator wrote about one key in 300 with its public key a byte short: 1,000 pairs
    // would meet several of those.
    const dir = scratchDir('mailrig-ed25519-');
    for (let i = 0; i < 1000; i++) {
      const pair = ed25519OpenSsh('mailrig-replication');
      const parsed = ssh2.utils.parseKey(pair.private);
      assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed), `pair ${i}: ${String(parsed)}\n${pair.private}`);
      assert.equal(parsed.type, 'ssh-ed25519');
      assert.equal(`ssh-ed25519 ${parsed.getPublicSSH().toString('base64')} mailrig-replication`, pair.public);
      if (i < 5) {
        const path = join(dir, `key${i}`);
        writeFileSync(path, pair.private, { mode: 0o600 });
        assert.equal(execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' }).trim(), pair.public);
      }
    }
  });
});
