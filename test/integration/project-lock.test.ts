// One mailrig at a time changes a project: parallel edits all land, a command waits (saying so once)
// for another, gives up clearly after the timeout, and takes over the lock of one that was killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { fixtureProject, startMailrig } from '../support/project.js';

const LOCK_MODULE = fileURLToPath(new URL('../../src/fs/lock.js', import.meta.url));

/** Another process holding the project's lock until its standard input ends (or it is killed). */
async function holder(config: string) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { lockProject } = await import(${JSON.stringify(LOCK_MODULE)});
       const release = await lockProject(${JSON.stringify(config)});
       process.stdout.write('locked\\n');
       process.stdin.resume();
       process.stdin.on('end', () => { release(); process.stdout.write('released\\n'); });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked\n')) resolve();
    });
    child.on('exit', () => reject(new Error('the lock holder exited before taking the lock')));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { pid: child.pid!, release: async () => (child.stdin.end(), exited), kill: async () => (child.kill('SIGKILL'), exited) };
}

// However slow the machine, waiting never times out here: the tests wait for events, not for time.
const PATIENT = { MAILRIG_LOCK_TIMEOUT: '86400' };

const mailboxes = (text: string) =>
  Object.entries((parse(text) as { domains: Record<string, { mailboxes: Record<string, unknown> }> }).domains).flatMap(([d, v]) =>
    Object.keys(v.mailboxes ?? {}).map((l) => `${l}@${d}`),
  );

describe('the project lock', () => {
  it('20 parallel user add: every one lands in mailrig.yaml', async () => {
    const p = fixtureProject();
    const runs = Array.from({ length: 20 }, (_, n) =>
      startMailrig(p.dir, ['user', 'add', `c${n}@example.com`, '--password-stdin'], `Correct-horse-battery-${n}\n`, PATIENT).done,
    );
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.err);
    const all = mailboxes(p.read());
    for (let n = 0; n < 20; n++) assert.ok(all.includes(`c${n}@example.com`), `c${n}@example.com is in mailrig.yaml`);
    assert.equal(all.length, 21);
    assert.equal(existsSync(join(p.dir, '.mailrig.lock')), false, 'the lock is gone afterwards');
  });

  it('a command waits for another, saying so once, then does its work', async () => {
    const p = fixtureProject();
    const h = await holder(p.config);
    const run = startMailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], 'Correct-horse-battery-9\n', PATIENT);
    await run.seen(`waiting for another mailrig in this project (pid ${h.pid})…`);
    assert.doesNotMatch(p.read(), /bob:/, 'nothing written while waiting');
    await h.release();
    const r = await run.done;
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err.match(/waiting for another mailrig/g)?.length, 1);
    assert.match(p.read(), /\n {6}bob:\n/);
  });

  it('gives up after the timeout: exit 1, naming the other process and the lock file, nothing written', async () => {
    const p = fixtureProject();
    const before = p.read();
    const h = await holder(p.config);
    try {
      const r = await startMailrig(p.dir, ['domain', 'add', 'example.org'], '', { MAILRIG_LOCK_TIMEOUT: '0' }).done;
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, new RegExp(`another mailrig is still working in this project \\(pid ${h.pid}\\); gave up after 0 s`));
      assert.match(r.err, /\.mailrig\.lock; once no mailrig runs in this project any more, remove that file/);
      assert.equal(p.read(), before);
    } finally {
      await h.release();
    }
  });

  it('takes over the lock of a mailrig that was killed', async () => {
    const p = fixtureProject();
    const h = await holder(p.config);
    await h.kill();
    const stale = readFileSync(join(p.dir, '.mailrig.lock'), 'utf8');
    assert.match(stale, new RegExp(`"pid":${h.pid}`));
    const r = await startMailrig(p.dir, ['user', 'add', 'bob@example.com', '--password-stdin'], 'Correct-horse-battery-9\n').done;
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /waiting/);
    assert.match(p.read(), /\n {6}bob:\n/);
    assert.equal(existsSync(join(p.dir, '.mailrig.lock')), false);
  });
});
