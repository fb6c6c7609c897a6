// domain add killed (SIGKILL) at every point where it changes a file, one run per point: the
// project still loads after each, and running the command again finishes it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureProject, mailrig } from '../support/project.js';

const temporaries = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.name.endsWith('.tmp'))
    .map((e) => join(e.parentPath, e.name));

describe('domain add, killed at each step', () => {
  it('leaves a project that loads, and runs again to success', () => {
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
      const dns = mailrig(p.dir, ['dns', '--format', 'json']);
      assert.equal(dns.code, 0, `after a kill at step ${step}, mailrig dns: ${dns.err}`);
      const text = p.read();
      assert.ok(text === before || /\n {2}new\.example:\n/.test(text), `mailrig.yaml is the old one or the new one at step ${step}`);
      const again = mailrig(p.dir, ['domain', 'add', 'new.example']);
      assert.equal(again.code, 0, `domain add again after a kill at step ${step}: ${again.err}`);
      const after = mailrig(p.dir, ['dns', '--format', 'json', '--domain', 'new.example']);
      assert.equal(after.code, 0, after.err);
      assert.match(after.out, /_domainkey\.new\.example/);
      assert.deepEqual(temporaries(p.dir), [], `no temporary files are left after a kill at step ${step} and a run`);
    }
    assert.ok(killed >= 8, `domain add was stopped at ${killed} points`);
  });
});
