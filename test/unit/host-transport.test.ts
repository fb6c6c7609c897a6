// Target parsing and the shell the transports send, run for real by LocalTransport in a temp dir.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalTransport } from '../../src/host/local.js';
import {
  TransportError, formatTarget, isSudoPasswordFailure, parseTarget, putScript, shQuote, sudoCommand,
} from '../../src/host/transport.js';

describe('SSH targets', () => {
  const good: [string, ReturnType<typeof parseTarget>][] = [
    ['mail.example.com', { host: 'mail.example.com' }],
    ['root@203.0.113.10', { user: 'root', host: '203.0.113.10' }],
    ['deploy@mail.example.com:2222', { user: 'deploy', host: 'mail.example.com', port: 2222 }],
    ['[2001:db8::10]:2222', { host: '2001:db8::10', port: 2222 }],
    ['root@[2001:db8::10]', { user: 'root', host: '2001:db8::10' }],
    ['2001:db8::10', { host: '2001:db8::10' }],
    ['mybox', { host: 'mybox' }],
  ];
  for (const [text, want] of good) it(`parses ${text}`, () => assert.deepEqual(parseTarget(text), want));

  for (const text of ['', 'root@', 'host:0', 'host:99999', 'host:22x', 'a b@host', '[2001:db8::1', 'root@[]:22']) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseTarget(text), TransportError));
  }

  it('formats targets for messages, bracketing IPv6 and hiding port 22', () => {
    assert.equal(formatTarget('root', '2001:db8::10', 2222), 'root@[2001:db8::10]:2222');
    assert.equal(formatTarget('root', 'mail.example.com', 22), 'root@mail.example.com');
  });
});

describe('shell snippets', () => {
  it('quotes any word for sh', async () => {
    const local = new LocalTransport({ useSudo: false });
    const word = `it's a "test" $HOME \`x\` \\ ;|&`;
    assert.equal((await local.exec(`printf %s ${shQuote(word)}`)).stdout, word);
  });

  it('recognises sudo asking for a password', () => {
    assert.equal(isSudoPasswordFailure({ stdout: '', stderr: 'sudo: a password is required\n', code: 1 }), true);
    assert.equal(isSudoPasswordFailure({ stdout: '', stderr: 'sudo: a terminal is required to read the password; either use the -S option\n', code: 1 }), true);
    assert.equal(isSudoPasswordFailure({ stdout: '', stderr: 'grep: sudo: a password is required\n', code: 1 }), false);
    assert.equal(isSudoPasswordFailure({ stdout: '', stderr: 'sudo: a password is required\n', code: 0 }), false);
    assert.equal(sudoCommand("echo 'x'"), `sudo -n -- /bin/sh -c 'echo '\\''x'\\'''`);
  });

  it('putScript rejects bad modes, owners and paths before sending anything', () => {
    assert.throws(() => putScript([{ path: '/x', content: '', mode: '644x' }]), /bad mode/);
    assert.throws(() => putScript([{ path: 'relative', content: '', mode: '0644' }]), /bad path/);
    assert.throws(() => putScript([{ path: '/x', content: '', mode: '0644', owner: 'root;rm' }]), /bad owner/);
  });
});

describe('LocalTransport', () => {
  const local = new LocalTransport({ useSudo: false });
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-local-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs commands with stdin and reports exit codes', async () => {
    assert.deepEqual(await local.exec('cat; echo err >&2; exit 3', { stdin: 'in\n' }), { stdout: 'in\n', stderr: 'err\n', code: 3 });
    assert.equal((await local.exec('kill -TERM $$')).code, 143);
  });

  it('writes many files with modes, creating directories, replacing atomically', async () => {
    writeFileSync(join(dir, 'old'), 'previous');
    const binary = Buffer.from([0, 1, 2, 255, 10, 13]);
    await local.putMany([
      { path: join(dir, 'a/b/c.conf'), content: 'line\n', mode: '0640' },
      { path: join(dir, 'old'), content: 'replaced\n', mode: '0600' },
      { path: join(dir, 'bin'), content: binary, mode: '0755' },
      { path: join(dir, 'empty'), content: '', mode: '0644' },
    ]);
    assert.equal(readFileSync(join(dir, 'a/b/c.conf'), 'utf8'), 'line\n');
    assert.equal(statSync(join(dir, 'a/b/c.conf')).mode & 0o7777, 0o640);
    assert.equal(statSync(join(dir, 'a/b')).mode & 0o7777, 0o755);
    assert.equal(readFileSync(join(dir, 'old'), 'utf8'), 'replaced\n');
    assert.deepEqual(readFileSync(join(dir, 'bin')), binary);
    assert.equal(readFileSync(join(dir, 'empty'), 'utf8'), '');
    assert.deepEqual(await local.get(join(dir, 'bin')), binary);
    assert.equal(await local.get(join(dir, 'missing')), undefined);
  });

  it('names the file it failed on and leaves no temp file', async () => {
    await assert.rejects(
      local.putMany([{ path: join(dir, 'f'), content: 'x', mode: '0644', owner: 'no-such-user-mailrig' }]),
      (err: unknown) => err instanceof TransportError && /failed writing .*\/f/.test(err.detail ?? ''),
    );
    assert.deepEqual((await local.exec(`ls -A ${shQuote(dir)} | grep mailrig-put || true`)).stdout, '');
  });

  it('detachStreams returns while a started daemon lives on', async () => {
    const pid = join(dir, 'sleep.pid');
    // Without detachStreams this waits for the daemon's end of the streams, i.e. until the timeout.
    const r = await local.exec(`sleep 300 & echo $! > ${pid}; echo ok`, { detachStreams: true, timeoutMs: 60_000 });
    assert.deepEqual(r, { stdout: 'ok\n', stderr: '', code: 0 });
    const daemon = Number(readFileSync(pid, 'utf8'));
    assert.doesNotThrow(() => process.kill(daemon, 0), 'the daemon still runs after exec returned');
    process.kill(daemon);
  });

  it('a timeout is a TransportError that points at detachStreams', async () => {
    await assert.rejects(local.exec('sleep 300', { timeoutMs: 200 }), /timed out/);
    // The daemon (its own session, so the timeout's kill misses it) holds the output for 300 s: the
    // wait ended while it still runs. The timeout leaves the shell ample time to start it and say so.
    const pidFile = join(dir, 'daemon.pid');
    await assert.rejects(local.exec(`setsid sleep 300 & echo $! > ${pidFile}; wait`, { timeoutMs: 2000 }), /timed out/);
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    assert.doesNotThrow(() => process.kill(daemon, 0), 'a timeout ends the wait even if a daemon holds the output');
    process.kill(daemon);
  });
});
