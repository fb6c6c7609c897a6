// The setup interview driven through injected streams, as a person at a terminal would answer it,
// and the --non-interactive path that takes every answer from flags.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { answersFromFlags, runInterview, type Prefilled } from '../../src/interview/runner.js';

const ENTER = '\r';
const DOWN = '\x1b[B';

/** Answers each prompt when its text appears on the output; records everything shown. */
function terminal(script: Array<[RegExp, string]>) {
  const input = new PassThrough();
  // Like a terminal, the output outlives each prompt (inquirer ends the stream it is given).
  const output = new PassThrough();
  output.end = (() => output) as typeof output.end;
  let shown = '';
  let step = 0;
  let searchFrom = 0;
  output.on('data', (chunk: Buffer) => {
    shown += chunk.toString('utf8');
    const next = script[step];
    if (!next) return;
    const rest = shown.slice(searchFrom);
    const m = next[0].exec(rest);
    if (m) {
      step++;
      searchFrom += m.index + m[0].length;
      setImmediate(() => input.write(next[1]));
    }
  });
  return { io: { input, output }, shown: () => shown, steps: () => step };
}

describe('interview', () => {
  it('asks each question, guesses defaults, re-asks a bad answer with the reason', async () => {
    const t = terminal([
      [/Mail domain/, `example.com, bücher.example${ENTER}`],
      [/hostname/, ENTER], // accept the guess mail.example.com
      [/IPv4/, `300.1.2.3${ENTER}`],
      [/must be an IPv4 address/, `\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f203.0.113.10${ENTER}`],
      [/IPv6/, ENTER],
      [/How to reach it/, ENTER], // root@203.0.113.10
      [/Target release/, `${DOWN}${ENTER}`],
      [/Admin email/, ENTER],
      [/First mailbox/, `alice@example.com${ENTER}`],
      [/Password for the first mailbox/, `short${ENTER}`],
      [/shorter than 12/, `${'\x7f'.repeat(5)}a-long-enough-password${ENTER}`],
      [/same password again/, `a-long-enough-password${ENTER}`],
      [/TLS certificates come from/, ENTER],
    ]);
    const answers = await runInterview(t.io);
    assert.deepEqual(answers, {
      domains: ['example.com', 'bücher.example'],
      hostname: 'mail.example.com',
      ipv4: '203.0.113.10',
      ipv6: undefined,
      ssh: 'root@203.0.113.10',
      release: 'debian-13',
      adminEmail: 'postmaster@example.com',
      mailbox: 'alice@example.com',
      password: 'a-long-enough-password',
      acme: 'letsencrypt',
    });
    assert.doesNotMatch(t.shown(), /a-long-enough-password/, 'the password is never echoed');
  });

  it('asks for the password again when the two differ, and skips questions answered by flags', async () => {
    const t = terminal([
      [/hostname/, ENTER],
      [/IPv6/, `2001:db8::10${ENTER}`],
      [/How to reach it/, `local${ENTER}`],
      [/Password for the first mailbox/, `first-password-here${ENTER}`],
      [/same password again/, `second-password-here${ENTER}`],
      [/passwords differ/, ''],
      [/Password for the first mailbox/, `third-password-here${ENTER}`],
      [/same password again/, `third-password-here${ENTER}`],
      [/TLS certificates come from/, `${DOWN}${DOWN}${DOWN}${ENTER}`],
      [/ACME directory URL/, `https://acme.internal.example/directory${ENTER}`],
    ]);
    const pre: Prefilled = {
      domains: ['example.org'],
      ipv4: '198.51.100.7',
      release: 'debian-12',
      adminEmail: 'ops@example.org',
      mailbox: 'bob@example.org',
    };
    const answers = await runInterview(t.io, pre);
    assert.equal(answers.hostname, 'mail.example.org');
    assert.equal(answers.ipv6, '2001:db8::10');
    assert.equal(answers.ssh, 'local');
    assert.equal(answers.password, 'third-password-here');
    assert.equal(answers.acme, 'https://acme.internal.example/directory');
    assert.doesNotMatch(t.shown(), /Mail domain|Target release|Admin email/);
  });

  it('refuses a bad flag value in interactive mode before asking anything', async () => {
    const t = terminal([]);
    await assert.rejects(runInterview(t.io, { domains: ['not a domain'] }), (e) => e instanceof UsageError && /--domain/.test(e.message));
  });
});

describe('non-interactive answers', () => {
  const full: Prefilled = {
    domains: ['example.com'],
    ipv4: '203.0.113.10',
    release: 'debian-12',
    mailbox: 'alice@example.com',
    password: 'a-long-enough-password',
  };

  it('takes flags and fills guessed defaults', () => {
    const a = answersFromFlags(full);
    assert.equal(a.hostname, 'mail.example.com');
    assert.equal(a.ssh, 'root@203.0.113.10');
    assert.equal(a.adminEmail, 'postmaster@example.com');
    assert.equal(a.acme, 'letsencrypt');
  });

  const missing: Array<[keyof Prefilled, RegExp]> = [
    ['domains', /needs --domain/],
    ['ipv4', /needs --ipv4/],
    ['mailbox', /needs --mailbox/],
    ['password', /needs --password-stdin/],
  ];
  for (const [key, says] of missing) {
    it(`names the missing ${key} flag`, () => {
      const pre = { ...full, [key]: undefined };
      assert.throws(() => answersFromFlags(pre), (e) => e instanceof UsageError && says.test(e.message));
    });
  }

  const invalid: Array<[Prefilled, RegExp]> = [
    [{ ...full, hostname: 'mail' }, /--hostname: "mail" must be a fully qualified/],
    [{ ...full, release: 'debian-11' }, /--release/],
    [{ ...full, acme: 'http://insecure.example/dir' }, /--acme/],
    [{ ...full, mailbox: 'alice@elsewhere.example' }, /--mailbox: .* must be in one of the mail domains/],
    [{ ...full, ssh: 'root@host:99999' }, /--ssh: .*port/],
    [{ ...full, password: 'short' }, /--password-stdin: "…" the password is shorter/],
  ];
  for (const [pre, says] of invalid) {
    it(`rejects ${says.source.slice(0, 40)}`, () => {
      assert.throws(() => answersFromFlags(pre), (e) => e instanceof UsageError && says.test(e.message));
    });
  }
});
