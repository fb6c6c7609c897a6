// Sending limits: the defaults and overrides of mailrig.yaml, the Lua rule rspamd runs, the notice
// job and its schedule, and what `mailrig user list` reads back from the host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseHostAccounts } from '../../src/cli/usage.js';
import { LIMIT_NOTICE_FILES, LIMIT_NOTICE_SCRIPT, renderLimitNotice, renderLimitsLua } from '../../src/render/limits.js';
import { renderRspamd } from '../../src/render/rspamd.js';
import { fixtureKeys, oneDomainConfig, TEST_HASH } from '../support/fixtures.js';

const withBob = (limits?: Record<string, number>, bobLimits?: Record<string, number>) =>
  oneDomainConfig({
    ...(limits ? { limits } : {}),
    domains: {
      'example.com': {
        mailboxes: {
          alice: { password_hash: TEST_HASH },
          bob: { password_hash: TEST_HASH, ...(bobLimits ? { limits: bobLimits } : {}) },
        },
        aliases: { postmaster: 'alice' },
      },
    },
  });

describe('sending limits in mailrig.yaml', () => {
  it('apply without a limits section: 30 a minute, 1000 a day, 100 recipients', () => {
    const c = withBob();
    assert.deepEqual(c.limits, { perMinute: 30, perDay: 1000, recipients: 100 });
    assert.deepEqual(c.domains[0]?.mailboxes.map((m) => m.limits), [c.limits, c.limits]);
  });

  it("a mailbox's own limits replace the server's one by one", () => {
    const c = withBob({ per_minute: 10, per_day: 200, recipients: 50 }, { per_day: 20 });
    const [alice, bob] = c.domains[0]?.mailboxes ?? [];
    assert.deepEqual(alice?.limits, { perMinute: 10, perDay: 200, recipients: 50 });
    assert.deepEqual(bob?.limits, { perMinute: 10, perDay: 20, recipients: 50 });
  });
});

describe('the rspamd rule', () => {
  it("holds the server's limits and a row only for a mailbox with its own", () => {
    const lua = renderLimitsLua(withBob({ per_minute: 10, per_day: 200, recipients: 50 }, { per_day: 20 }));
    assert.match(lua, /^local defaults = \{ minute = 10, day = 200, recipients = 50 \}$/m);
    assert.match(lua, /^ {2}\["bob@example\.com"\] = \{ minute = 10, day = 20, recipients = 50 \},$/m);
    assert.doesNotMatch(lua, /\["alice@example\.com"\]/);
  });

  it('counts logged-in users only, refuses with 4xx over a count and 5xx over the recipients, and queues one notice a day', () => {
    const lua = renderLimitsLua(withBob());
    assert.match(lua, /local user = task:get_user\(\)\n\s+if not user then return end/);
    assert.match(lua, /set_pre_result\('soft reject', 'Sending limit reached/);
    assert.match(lua, /set_pre_result\('reject', 'Too many recipients/);
    assert.match(lua, /redis\.call\('SET', KEYS\[3\], .*'NX', 'EX', 86400\) then\n\s+redis\.call\('RPUSH', KEYS\[4\], ARGV\[3\]\)/);
    assert.match(lua, /'mailrig:sent:minute:' \.\. user, 'mailrig:sent:day:' \.\. user, 'mailrig:limited:' \.\. user, 'mailrig:limit-notices'/);
    // A chunk of its own: appended to rspamd.local.lua, it never ends that file early.
    assert.match(lua, /^do\n/m);
    assert.match(lua, /\nend\n$/);
  });

  it('is appended to rspamd.local.lua after the From: rule', () => {
    const config = withBob();
    const lua = renderRspamd({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' }).find((f) => f.path === '/etc/rspamd/rspamd.local.lua')?.content ?? '';
    assert.ok(lua.indexOf('MAILRIG_FROM_NOT_OWNED') < lua.indexOf('MAILRIG_SENDING_LIMIT'), lua);
  });
});

describe('the notice job', () => {
  const files = renderLimitNotice({ config: withBob(), keys: fixtureKeys(['example.com']), release: 'debian-12' });

  it('renders its script, a five-minute timer and a cron entry for hosts without systemd', () => {
    assert.deepEqual(
      files.map((f) => `${f.path} ${f.mode} ${f.service}/${f.onChange}`),
      [
        `${LIMIT_NOTICE_SCRIPT} 0755 limits/none`,
        `${LIMIT_NOTICE_FILES.service} 0644 limits/none`,
        `${LIMIT_NOTICE_FILES.timer} 0644 limits/none`,
        `${LIMIT_NOTICE_FILES.cron} 0644 limits/none`,
      ],
    );
    assert.match(files[2]?.content ?? '', /^OnCalendar=\*:0\/5$/m);
    assert.match(files[3]?.content ?? '', /^\*\/5 \* \* \* \* root \[ -d \/run\/systemd\/system \] \|\| \/usr\/local\/sbin\/mailrig-limit-notice /m);
  });

  it('mails admin_email, and takes a notice off the queue only once sendmail took it', () => {
    const script = files[0]?.content ?? '';
    assert.match(script, /^admin=admin@example\.com$/m);
    const send = script.indexOf('/usr/sbin/sendmail -i');
    assert.ok(send > 0 && send < script.indexOf("redis-cli LPOP 'mailrig:limit-notices'"), script);
  });

  it('an admin address with a quote in it stays one word of the script', () => {
    const config = { ...withBob(), adminEmail: "o'brien+$(id)@example.com" };
    const script = renderLimitNotice({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' })[0]?.content ?? '';
    const line = script.split('\n').find((l) => l.startsWith('admin=')) ?? '';
    assert.equal(execFileSync('sh', ['-c', `${line}; printf %s "$admin"`], { encoding: 'utf8' }), "o'brien+$(id)@example.com");
  });
});

describe('who was limited, as user list reads it', () => {
  it('marks the users with a Redis marker, and shows usage alone when Redis had nothing to say', () => {
    const out = [
      'username\tquota name\ttype\tvalue\tlimit\t%',
      'alice@example.com\tUser quota\tSTORAGE\t10\t-\t0',
      'bob@example.com\tUser quota\tSTORAGE\t20\t-\t0',
      '# limited',
      'mailrig:limited:bob@example.com',
      '',
    ].join('\n');
    const usage = parseHostAccounts(out);
    assert.deepEqual([...usage].map(([a, u]) => [a, u.used, u.limited]), [
      ['alice@example.com', 10 * 1024, false],
      ['bob@example.com', 20 * 1024, true],
    ]);
    const none = parseHostAccounts(out.slice(0, out.indexOf('# limited')));
    assert.equal(none.get('bob@example.com')?.limited, false);
  });
});
