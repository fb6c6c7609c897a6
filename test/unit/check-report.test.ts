// The runner (parallel, a throwing check is reported, not fatal), the table and JSON output, and
// --changes against the previous run kept in .mailrig/check-last.json.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diffReports, formatChanges, loadLast, saveLast } from '../../src/check/changes.js';
import { formatJson, formatTable, makeReport } from '../../src/check/format.js';
import { exitCode, runChecks } from '../../src/check/runner.js';
import { fail, ok, warn, type Check, type CheckResult } from '../../src/check/types.js';
import { scratchDir } from '../support/project.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const h = (id: string, section: CheckResult['section'], subject: string) => ({ id, section, subject });

const results: CheckResult[] = [
  ok(h('host.daemon.postfix', 'host', 'postfix'), 'running (pid 10)'),
  fail(h('host.daemon.dovecot', 'host', 'dovecot'), 'not running', 'mailrig apply starts it'),
  warn(h('dns.dnssec.example.com', 'dns', 'example.com DNSSEC'), 'unsigned', 'turn on DNSSEC'),
];

describe('check: runner', () => {
  it('runs checks in parallel and keeps their order; a throwing check becomes "could not check"', async () => {
    const started: string[] = [];
    let startedWhenSlowEnded: string[] = [];
    // The slow check yields to the event loop once: every check started together has started by then.
    const slow: Check<null> = {
      section: 'host',
      name: 'slow',
      run: async () => {
        started.push('slow');
        await new Promise((r) => setImmediate(r));
        startedWhenSlowEnded = [...started];
        return [results[0] as CheckResult];
      },
    };
    const fast: Check<null> = { section: 'dns', name: 'fast', run: async () => (started.push('fast'), [results[2] as CheckResult]) };
    const broken: Check<null> = { section: 'tls', name: 'broken', run: async () => { throw new Error('boom'); } };
    const rs = await runChecks([slow, fast, broken], null);
    assert.deepEqual(startedWhenSlowEnded, ['slow', 'fast'], 'fast started before slow finished');
    assert.deepEqual(rs.map((r) => r.id), ['host.daemon.postfix', 'dns.dnssec.example.com', 'tls.broken']);
    assert.equal(rs[2]?.unknown, true);
    assert.match(rs[2]?.message ?? '', /could not check: the check failed: boom/);
    assert.equal(exitCode(rs), 0);
    assert.equal(exitCode(results), 1);
  });
});

describe('check: output', () => {
  const report = makeReport('mail.example.com', results, NOW);
  it('table: grouped by section, a fix line under each warn and fail, a summary', () => {
    assert.equal(
      formatTable(report, { width: 100, color: false }),
      [
        'mailrig check: mail.example.com at 2026-06-01 12:00:00 UTC',
        '',
        'Host',
        '  ok    postfix             running (pid 10)',
        '  FAIL  dovecot             not running',
        '                            fix: mailrig apply starts it',
        '',
        'DNS',
        '  warn  example.com DNSSEC  unsigned',
        '                            fix: turn on DNSSEC',
        '',
        '1 ok, 1 warn, 1 fail — fix the FAIL lines first',
        '',
      ].join('\n'),
    );
  });
  it('JSON: the documented shape', () => {
    const j = JSON.parse(formatJson(report)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j), ['version', 'checkedAt', 'target', 'summary', 'results']);
    assert.deepEqual(j['summary'], { ok: 1, warn: 1, fail: 1 });
    assert.deepEqual((j['results'] as CheckResult[])[1], { id: 'host.daemon.dovecot', section: 'host', subject: 'dovecot', status: 'fail', message: 'not running', fix: 'mailrig apply starts it' });
  });
});

describe('check: --changes', () => {
  it('keeps the last report privately and lists status changes only', () => {
    const dir = scratchDir('mailrig-check-');
    assert.equal(loadLast(dir), undefined);
    const before = makeReport('mail.example.com', [ok(h('host.daemon.dovecot', 'host', 'dovecot'), 'running'), results[2] as CheckResult, fail(h('dns.record.TXT.x', 'dns', 'DKIM x'), 'not published', 'publish it')], new Date(NOW.getTime() - 3600_000));
    saveLast(dir, before);
    assert.equal(statSync(join(dir, 'check-last.json')).mode & 0o777, 0o600);
    const last = loadLast(dir);
    assert.ok(last);
    const changes = diffReports(last.results, results);
    assert.deepEqual(changes.map((c) => [c.id, c.before, c.after]), [
      ['host.daemon.dovecot', 'ok', 'fail'],
      ['dns.record.TXT.x', 'fail', undefined],
    ]);
    assert.equal(
      formatChanges(changes, last, 'mail.example.com'),
      [
        'mailrig check: mail.example.com, 2 changes since 2026-06-01 11:00:00 UTC',
        '  ok   → fail  dovecot: not running',
        '                 fix: mailrig apply starts it',
        '  fail → gone  DKIM x: no longer reported (was: not published)',
        '',
      ].join('\n'),
    );
  });
  it('nothing changed prints nothing (cron mails nothing)', () => {
    assert.equal(formatChanges(diffReports(results, results), undefined, 'x'), '');
  });
  it('the first run reports every problem as new', () => {
    assert.deepEqual(diffReports([], results).map((c) => c.id), ['host.daemon.dovecot', 'dns.dnssec.example.com']);
  });
});

describe('check: names as the operator wrote them', () => {
  it('shows IDN domains in Unicode, with the punycode beside them in fixes; JSON keeps the ASCII ids', () => {
    const idn = [
      fail(h('dns.dmarc.xn--bcher-kva.test', 'dns', 'xn--bcher-kva.test DMARC policy'), 'no record at _dmarc.xn--bcher-kva.test', 'publish TXT at _dmarc.xn--bcher-kva.test: v=DMARC1; p=quarantine'),
    ];
    const report = makeReport('mail.xn--bcher-kva.test', idn, NOW);
    const table = formatTable(report, { width: 120, color: false });
    assert.doesNotMatch(table.replace(/\(_dmarc\.xn--bcher-kva\.test\)/, ''), /xn--/, table);
    assert.match(table, /mailrig check: mail\.bücher\.test/);
    assert.match(table, /FAIL  bücher\.test DMARC policy\s+no record at _dmarc\.bücher\.test/);
    assert.match(table, /fix: publish TXT at _dmarc\.bücher\.test \(_dmarc\.xn--bcher-kva\.test\): v=DMARC1/);
    const changes = formatChanges(diffReports([], idn), undefined, 'mail.xn--bcher-kva.test');
    assert.match(changes, /bücher\.test DMARC policy: no record at _dmarc\.bücher\.test/);
    assert.equal(JSON.parse(formatJson(report)).results[0].id, 'dns.dmarc.xn--bcher-kva.test');
  });
});
