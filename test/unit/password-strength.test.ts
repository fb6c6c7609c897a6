// Passwords: a real strength estimate decides what is weak, and --password-stdin takes the password
// exactly as piped in (one line break may end it), refusing what it would otherwise have to guess at.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { readStdinPassword } from '../../src/cli/init.js';
import { passwordWeakness } from '../../src/keys/password.js';
import { fixtureProject, mailrig, startMailrig } from '../support/project.js';

describe('password strength', () => {
  for (const weak of ['password1234', 'Password1234!', 'qwertyuiop123', 'hunter2hunter2', 'iloveyou1234']) {
    it(`refuses ${weak}, saying why and what would do`, () => {
      const why = passwordWeakness(weak);
      assert.match(why ?? '', /^is too easy to guess: it [a-z ]+ \(about 10\^\d guesses; at least 10\^8 are needed\)\. Three or four unrelated words, or 12 or more random characters, are accepted$/);
    });
  }
  for (const good of ['Example-password-2026', 'Test-password-2026', 'correct-horse-battery-9', 'kX9#mQ2$vL7p', '  spaced pass phrase  ']) {
    it(`accepts ${good}`, () => assert.equal(passwordWeakness(good), undefined));
  }
  it('judges a very long password quickly', () => {
    const started = process.hrtime.bigint();
    assert.match(passwordWeakness('Xy7-'.repeat(1000)) ?? '', /repeats a group of characters/);
    assert.ok(process.hrtime.bigint() - started < 5_000_000_000n);
  });
});

const stdin = (data: string | Buffer) => {
  const s = new PassThrough();
  s.end(data);
  return s;
};

describe('--password-stdin', () => {
  const exact: Array<[string, string]> = [
    ['  spaced pass phrase  \n', '  spaced pass phrase  '],
    ['no-line-break-at-the-end', 'no-line-break-at-the-end'],
    ['windows-line-break\r\n', 'windows-line-break'],
    ['\ttabs kept\t\n', '\ttabs kept\t'],
  ];
  for (const [input, password] of exact) {
    it(`takes ${JSON.stringify(input)} as ${JSON.stringify(password)}`, async () => assert.equal(await readStdinPassword(stdin(input)), password));
  }
  const refused: Array<[string, string | Buffer, RegExp]> = [
    ['a second line', 'first-line-password\nsecond line\n', /more than one line/],
    ['two line breaks', 'first-line-password\n\n', /more than one line/],
    ['a lone carriage return inside', 'first\rsecond-password', /more than one line/],
    ['nothing', '', /standard input was empty/],
    ['a bare line break', '\n', /standard input was empty/],
    ['bytes that are not UTF-8', Buffer.from([0x70, 0xff, 0xfe, 0x0a]), /not UTF-8 text/],
    ['10 MB', Buffer.alloc(10 << 20, 0x61), /more than 4096 bytes/],
  ];
  for (const [name, input, says] of refused) {
    it(`refuses ${name}`, async () => assert.rejects(readStdinPassword(stdin(input)), (e: Error) => e.name === 'UsageError' && says.test(e.message)));
  }

  it('user add: a 10 MB input and a second line exit 2 and change nothing; spaces are kept', async () => {
    const p = fixtureProject();
    const before = p.read();
    const big = await startMailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], Buffer.alloc(10 << 20, 0x61)).done;
    assert.equal(big.code, 2, big.err);
    assert.match(big.err, /^mailrig: --password-stdin: standard input holds more than 4096 bytes/);
    const two = mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], 'Correct-horse-battery-9\nsecond line\n');
    assert.equal(two.code, 2);
    assert.match(two.err, /more than one line/);
    const weak = mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], 'Password1234!\n');
    assert.equal(weak.code, 2);
    assert.match(weak.err, /the password is too easy to guess: it is a common password with small changes .*; choose a stronger one \(or pass --allow-weak\)/);
    assert.equal(p.read(), before);
    const spaced = mailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], ' Correct horse battery 9 \n');
    assert.equal(spaced.code, 0, spaced.err);
    const hash = /bob:\n {8}password_hash: "([^"]+)"/.exec(p.read())?.[1] ?? '';
    const { verifyPassword } = await import('../../src/keys/password.js');
    assert.equal(await verifyPassword(hash, ' Correct horse battery 9 '), true);
    assert.equal(await verifyPassword(hash, 'Correct horse battery 9'), false);
  });
});
