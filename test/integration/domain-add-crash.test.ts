// domain add and init killed (SIGKILL) at points where they change a file, one run per point: the
// project still loads after each (mailrig dns, run in this process), and running the command again
// finishes it. The killed runs are real processes; the runs again, main in this process.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mailrigInProcess } from '../support/in-process.js';
import { dnsInProcess, fixtureProject, mailrig, scratchDir } from '../support/project.js';

const temporaries = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.name.endsWith('.tmp'))
    .map((e) => join(e.parentPath, e.name));

describe('domain add, killed at each step', () => {
  it('leaves a project that loads, and runs again to success', async () => {
    let killed = 0;
    for (let step = 1; ; step++) {
      const p = fixtureProject();
      const before = p.read();
      const r = mailrig(p.dir, ['domain', 'add', 'new.example'], '', { MAILRIG_CRASH_AT: String(step) });
      if (r.signal === null) {
        // Past its last write: it finished.
        assert.equal(r.code, 0, r.err);
        break;
      }
      assert.equal(r.signal, 'SIGKILL');
      killed++;
      const dns = await dnsInProcess(p.dir, { format: 'json' });
      assert.equal(dns.code, 0, `after a kill at step ${step}, mailrig dns: ${dns.err}`);
      const text = p.read();
      assert.ok(text === before || /\n {2}new\.example:\n/.test(text), `mailrig.yaml is the old one or the new one at step ${step}`);
      const again = await mailrigInProcess(['domain', 'add', 'new.example'], p.dir, '', { NO_COLOR: '1' });
      assert.equal(again.code, 0, `domain add again after a kill at step ${step}: ${again.err}`);
      const after = await dnsInProcess(p.dir, { format: 'json', domain: 'new.example' });
      assert.equal(after.code, 0, after.err);
      assert.match(after.out, /_domainkey\.new\.example/);
      assert.deepEqual(temporaries(p.dir), [], `no temporary files are left after a kill at step ${step} and a run`);
    }
    assert.ok(killed >= 8, `domain add was stopped at ${killed} points`);
  });
});

const INIT = ['init', '--non-interactive', '--domain', 'example.com', '--ipv4', '203.0.113.10', '--release', 'debian-13', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed', '--ssh', 'local'];
const PASSWORD = 'Correct-horse-battery-9\n';

describe('init, killed at every third step', () => {
  it('leaves no project or one that loads, and runs again to success', async () => {
    let killed = 0;
    for (let step = 2; ; step += 3) {
      const dir = scratchDir('mailrig-init-crash-');
      const r = mailrig(dir, INIT, PASSWORD, { MAILRIG_CRASH_AT: String(step) });
      if (r.signal === null) {
        assert.equal(r.code, 0, r.err);
        break;
      }
      assert.equal(r.signal, 'SIGKILL');
      killed++;
      // Killed after writing mailrig.yaml, its last file, init had finished; before it, init runs again.
      if (!existsSync(join(dir, 'mailrig.yaml'))) {
        const again = await mailrigInProcess(INIT, dir, PASSWORD, { NO_COLOR: '1' });
        assert.equal(again.code, 0, `init again after a kill at step ${step}: ${again.err}`);
      }
      const dns = await dnsInProcess(dir, { format: 'json' });
      assert.equal(dns.code, 0, `after a kill at step ${step} and init: ${dns.err}`);
      assert.deepEqual(temporaries(dir), [], `no temporary files are left after a kill at step ${step} and a run`);
    }
    assert.ok(killed >= 8, `init was stopped at ${killed} points`);
  });
});
