// Backup status: what the host said, judged at an injected "now" — ok up to two days, then a warning.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assessBackup, backupStatus, formatAge, formatBytes, parseStatusOutput, statusScript } from '../../src/backup/status.js';
import { MemoryTransport } from '../../src/host/memory.js';
import { FIXTURES, oneDomainConfig } from '../support/fixtures.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'backup', name), 'utf8');
const config = oneDomainConfig({ backup: { repository: '/var/backups/mailrig-restic' } });
const HOUR = 3600 * 1000;
const LAST = Date.parse('2026-11-29T04:54:47.202Z');

/** What statusScript prints on a host whose repository holds the recorded snapshots. */
function hostOutput(snapshots = fixture('snapshots-0.14.json'), stats = fixture('stats-latest-0.14.json')): string {
  return `### mailrig-backup snapshots 0\n${snapshots}\n### mailrig-backup stats 0\n${stats}\n`;
}

describe('backup status', () => {
  const cases: Array<[string, number, 'ok' | 'warn', RegExp]> = [
    ['fresh', 5 * 60 * 1000, 'ok', /^last backup 2026-11-29 04:54 UTC \(5 min ago\), 6 B, snapshot fdd6f403$/],
    ['a day old', 30 * HOUR, 'ok', /\(30 h ago\)/],
    ['just under two days', 48 * HOUR - 1000, 'ok', /47 h 59 min ago/],
    ['older than two days', 48 * HOUR + 60_000, 'warn', /^the last backup is older than 2 days: .*\(2 days ago\)/],
    ['a week old', 7 * 24 * HOUR, 'warn', /7 days ago/],
  ];
  for (const [name, age, level, message] of cases) {
    it(`${name}: ${level}`, () => {
      const s = assessBackup(config, parseStatusOutput(hostOutput()), new Date(LAST + age));
      assert.equal(s.level, level);
      assert.match(s.message, message);
      assert.equal(s.ageSeconds, Math.round(age / 1000));
      assert.equal(s.snapshotCount, 2);
      assert.equal(s.sizeBytes, 6);
      assert.equal(s.latest?.shortId, 'fdd6f403');
    });
  }

  it('no snapshot yet is a warning that says how to make one', () => {
    const s = assessBackup(config, parseStatusOutput(hostOutput(fixture('snapshots-empty-0.14.json'), 'Fatal: no snapshot found')), new Date(LAST));
    assert.equal(s.level, 'warn');
    assert.match(s.message, /no backup yet .*mailrig backup now/);
  });

  it('an unreadable repository is a warning carrying restic’s words', () => {
    const out = `### mailrig-backup snapshots 1\n${fixture('snapshots-no-repo-0.14.txt')}\n### mailrig-backup stats 1\nFatal\n`;
    const s = assessBackup(config, parseStatusOutput(out), new Date(LAST));
    assert.equal(s.level, 'warn');
    assert.match(s.error ?? '', /Is there a repository/);
  });

  it('a host without the backup environment has not been applied yet', () => {
    const s = assessBackup(config, parseStatusOutput('### mailrig-backup missing 0\n'), new Date(LAST));
    assert.match(s.message, /not set up on the host yet/);
  });

  it('asks the host once, with the backup env, and without restic locks', async () => {
    const host = new MemoryTransport();
    const seen: string[] = [];
    host.on(/^sh -s$/, (_cmd, opts) => {
      seen.push(String(opts.stdin ?? ''));
      return { stdout: hostOutput(), stderr: '', code: 0 };
    });
    const s = await backupStatus(host, config, new Date(LAST + HOUR));
    assert.equal(s.level, 'ok');
    assert.equal(seen.length, 1);
    assert.equal(seen[0], statusScript('mail.example.com'));
    assert.match(seen[0] ?? '', /restic --no-lock snapshots --json --tag mailrig --host mail\.example\.com/);
  });

  it('without a backup section nothing is asked', async () => {
    const s = await backupStatus(new MemoryTransport(), oneDomainConfig(), new Date(LAST));
    assert.deepEqual([s.configured, s.level], [false, 'warn']);
  });

  it('formats sizes and ages for people', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(formatAge(42), '42 s');
    assert.equal(formatAge(3600 * 5 + 60 * 7), '5 h 7 min');
  });
});
