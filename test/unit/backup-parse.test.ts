// restic's JSON, as restic 0.14 (Debian 12) printed it (test/fixtures/backup/*-0.14.*).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isMissingRepository, latest, parseSnapshots, parseStats, ResticOutputError } from '../../src/backup/parse.js';
import { FIXTURES } from '../support/fixtures.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'backup', name), 'utf8');

describe('restic snapshots --json', () => {
  it('reads every snapshot, oldest first, and finds the latest', () => {
    const snaps = parseSnapshots(fixture('snapshots-0.14.json'));
    assert.equal(snaps.length, 2);
    assert.deepEqual(
      snaps.map((s) => [s.shortId, s.hostname, s.tags.join(',')]),
      [
        ['8a565059', 'mail.example.com', 'mailrig'],
        ['fdd6f403', 'mail.example.com', 'mailrig'],
      ],
    );
    const last = latest(snaps);
    assert.equal(last?.id, 'fdd6f4032d17d5b3cd0df2e0d2f7c06fdfea3f0fff97df5900569a1b62f8fe46');
    assert.equal(last?.timeMs, Date.parse('2026-11-29T04:54:47.202Z'));
  });

  it('sorts by time, whatever order restic printed', () => {
    const text = JSON.stringify([
      { id: 'b'.repeat(64), time: '2026-03-02T03:30:00Z' },
      { id: 'a'.repeat(64), time: '2026-03-01T03:30:00+01:00' },
    ]);
    assert.deepEqual(parseSnapshots(text).map((s) => s.shortId), ['aaaaaaaa', 'bbbbbbbb']);
  });

  it('an empty repository has no latest snapshot', () => {
    const snaps = parseSnapshots(fixture('snapshots-empty-0.14.json'));
    assert.deepEqual(snaps, []);
    assert.equal(latest(snaps), undefined);
  });

  it('refuses what is not restic JSON, saying so', () => {
    assert.throws(() => parseSnapshots('Fatal: wrong password or no key found'), ResticOutputError);
    assert.throws(() => parseSnapshots('{"id":"x"}'), /expected a JSON array/);
    assert.throws(() => parseSnapshots('[{"time":"2026-01-01T00:00:00Z"}]'), /no id or time/);
  });
});

describe('restic stats --json', () => {
  it('reads the restore size and file count', () => {
    assert.deepEqual(parseStats(fixture('stats-latest-0.14.json')), { totalSize: 6, totalFileCount: 14 });
  });
  it('refuses output without a size', () => {
    assert.throws(() => parseStats('{"snapshots_count":1}'), /no total_size/);
  });
});

describe('restic errors', () => {
  it('tells a repository that is not there from other failures', () => {
    assert.ok(isMissingRepository(fixture('snapshots-no-repo-0.14.txt')));
    assert.ok(!isMissingRepository('Fatal: wrong password or no key found'));
  });
});
