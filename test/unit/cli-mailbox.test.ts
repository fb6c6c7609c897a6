// mailrig user vacation (comment-keeping edits of a mailbox's automatic reply) and the usage column of
// mailrig user list (doveadm's table, read through an injected reader instead of SSH).
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseQuotaGet } from '../../src/cli/usage.js';
import { runUserList, usedText } from '../../src/cli/user.js';
import { runUserVacation } from '../../src/cli/vacation.js';
import { loadConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { BEFORE, recordingIo, scratchProjects } from '../support/accounts.js';

const project = scratchProjects('mailbox');
const io = recordingIo;

describe('mailrig user vacation', () => {
  it('on: adds the reply under the mailbox, keeping every other line and comment', async () => {
    const p = project();
    const body = join(tmpdir(), `mailrig-body-${process.pid}.txt`);
    writeFileSync(body, 'Away until August.\nUrgent: "bob".\n');
    try {
      assert.equal(await runUserVacation('alice@example.com', 'on', { config: p.path, subject: 'Im Urlaub', bodyFile: body, until: '2026-08-31' }, io()), 0);
    } finally {
      rmSync(body);
    }
    const added = p.read().split('\n').filter((l) => !BEFORE.split('\n').includes(l));
    assert.deepEqual(added, [
      '        vacation:',
      '          subject: Im Urlaub',
      '          body: "Away until August.\\nUrgent: \\"bob\\".\\n"',
      '          until: 2026-08-31',
    ]);
    assert.equal(p.read().split('\n').length, BEFORE.split('\n').length + 4);
    const m = loadConfig(p.path).config.domains[0]?.mailboxes[0];
    assert.deepEqual(m?.vacation, { subject: 'Im Urlaub', body: 'Away until August.\nUrgent: "bob".\n', from: undefined, until: '2026-08-31', days: 7 });
  });

  it('on again keeps what is not given; off removes it and restores the file', async () => {
    const p = project();
    await runUserVacation('alice@example.com', 'on', { config: p.path, until: '2026-08-31', days: '3' }, io());
    await runUserVacation('alice@example.com', 'on', { config: p.path, subject: 'Away' }, io());
    const v = loadConfig(p.path).config.domains[0]?.mailboxes[0]?.vacation;
    assert.equal(v?.subject, 'Away');
    assert.equal(v?.until, '2026-08-31');
    assert.equal(v?.days, 3);
    assert.match(v?.body ?? '', /I am away/);
    const out = io();
    assert.equal(await runUserVacation('alice@example.com', 'off', { config: p.path }, out), 0);
    assert.equal(p.read(), BEFORE);
    assert.match(out.text(), /Switched off/);
    const again = io();
    await runUserVacation('alice@example.com', 'off', { config: p.path }, again);
    assert.match(again.text(), /has no automatic reply; nothing changed/);
  });

  it('refuses bad input naming the argument, and changes nothing', async () => {
    const p = project();
    const cases: Array<[string, string, Record<string, string>, RegExp]> = [
      ['alice@example.com', 'maybe', {}, /maybe: say on or off/],
      ['nobody@example.com', 'on', {}, /nobody@example\.com: no such mailbox/],
      ['alice@example.com', 'on', { until: '2026-02-30' }, /--until 2026-02-30: not a date/],
      ['alice@example.com', 'on', { days: '0' }, /--days 0/],
      ['alice@example.com', 'on', { from: 'not-an-address' }, /--from not-an-address/],
      ['alice@example.com', 'on', { bodyFile: '/nonexistent/body.txt' }, /--body-file \/nonexistent\/body\.txt: ENOENT/],
      ['alice@example.com', 'off', { until: '2026-08-31' }, /off takes no reply settings \(got --until\)/],
    ];
    for (const [address, state, flags, message] of cases) {
      await assert.rejects(runUserVacation(address, state, { config: p.path, ...flags }, io()), (e: unknown) => e instanceof UsageError && message.test(e.message));
    }
    assert.equal(p.read(), BEFORE);
  });
});

describe('mailrig user list, usage', () => {
  const TSV = [
    'Username\tQuota name\tType\tValue\tLimit\t%',
    'alice@example.com\tUser quota\tSTORAGE\t8400\t10240\t82',
    'alice@example.com\tUser quota\tMESSAGE\t12\t-\t0',
    'bob@example.com\tUser quota\tSTORAGE\t0\t-\t0',
    '',
  ].join('\n');

  it('reads the STORAGE rows of doveadm quota get -A, in bytes', () => {
    assert.deepEqual([...parseQuotaGet(TSV)], [
      ['alice@example.com', { used: 8400 * 1024, limit: 10240 * 1024 }],
      ['bob@example.com', { used: 0, limit: undefined }],
    ]);
  });

  it('shows used bytes and the share of the quota beside each mailbox', async () => {
    const p = project();
    writeFileSync(p.path, BEFORE.replace('        # quota: 10G ', '        quota: 10M   '));
    const out = io();
    let asked = 0;
    const reader = async () => {
      asked++;
      return parseQuotaGet(TSV);
    };
    assert.equal(await runUserList({ config: p.path, usage: true }, out, reader), 0);
    assert.equal(asked, 1);
    assert.match(out.text(), /^ADDRESS +USED +QUOTA +ALIASES +NOTES\nalice@example\.com +8\.2M \(82%\) +10M +- *\n$/);
    const json = io();
    await runUserList({ config: p.path, usage: true, json: true }, json, reader);
    assert.equal((JSON.parse(json.text()) as Array<{ used: number }>)[0]?.used, 8400 * 1024);
  });

  it('rounds sizes for reading', () => {
    assert.equal(usedText(0, 0), '0');
    assert.equal(usedText(512 * 1024, 1024 ** 2), '512K (50%)');
    assert.equal(usedText(1.44 * 1024 ** 3, 0), '1.4G');
    assert.equal(usedText(undefined, 0), '-');
  });
});
