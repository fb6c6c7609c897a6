// What each mailbox gets beside its passwd-file line: the vacation script (quoting, the list/bulk/
// auto-submitted guard, the end date), the quota warning script, and the quota checks Postfix asks
// Dovecot for at RCPT and END-OF-DATA.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { RawConfigInput } from '../../src/config/schema.js';
import type { Release } from '../../src/config/model.js';
import { renderDovecot } from '../../src/render/dovecot.js';
import { quotaWarningScript, sieveString, vacationScript } from '../../src/render/dovecot-mailbox.js';
import { renderPostfix } from '../../src/render/postfix.js';
import type { FileSpec } from '../../src/render/types.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

function config(release: Release, mail: RawConfigInput['mail'] = {}) {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    mail,
    domains: {
      'example.com': {
        mailboxes: {
          alice: {
            password_hash: TEST_HASH,
            aliases: ['a.smith'],
            vacation: { subject: 'Away "now"', body: 'Back on Monday.\nC:\\Temp is not mine.\n', until: '2026-08-31' },
          },
          bob: { password_hash: TEST_HASH, vacation: { subject: 'Away', body: 'Back soon.', from: 'office@example.com', days: 2 } },
          carol: { password_hash: TEST_HASH },
        },
      },
    },
  });
}

const mailbox = (release: Release, local: string) => {
  const m = config(release).domains[0]?.mailboxes.find((x) => x.local === local);
  assert.ok(m);
  return m;
};

function content(files: FileSpec[], path: string): string {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `${path} is rendered`);
  return f.content;
}

describe('vacation scripts', () => {
  it('quote Sieve strings: backslash and double quote escaped, newlines kept', () => {
    assert.equal(sieveString('a "b" c:\\d\ne'), '"a \\"b\\" c:\\\\d\ne"');
  });

  it('reply only to mail that is not from a list, bulk or automatic, until the last day given', () => {
    const s = vacationScript(mailbox('debian-12', 'alice'));
    assert.match(s, /^require \["vacation", "date", "relational"\];$/m);
    assert.match(s, /exists "list-id"/);
    assert.match(s, /header :contains "precedence" \["bulk", "list", "junk"\]/);
    assert.match(s, /allof \(exists "auto-submitted", not header :is "auto-submitted" "no"\)/);
    assert.match(s, /currentdate :value "le" "date" "2026-08-31"/);
    assert.match(s, /vacation :days 7 :subject "Away \\"now\\"" :addresses \["a\.smith@example\.com"\]\n {4}"Back on Monday\.\nC:\\\\Temp is not mine\.\n";/);
    // A stop here would end the user's own scripts too.
    assert.doesNotMatch(s, /\bstop\b/);
  });

  it('use the given From and period, and need no date extension without an end', () => {
    const s = vacationScript(mailbox('debian-13', 'bob'));
    assert.match(s, /^require \["vacation"\];$/m);
    assert.match(s, /vacation :days 2 :subject "Away" :from "office@example\.com"\n/);
    assert.doesNotMatch(s, /currentdate/);
  });

  it('exist for every mailbox; one without a reply is only a comment', () => {
    for (const release of ['debian-12', 'debian-13'] as const) {
      const files = renderDovecot({ config: config(release), keys: fixtureKeys(['example.com']), release });
      const carol = content(files, '/etc/dovecot/sieve/vacation/carol@example.com.sieve');
      assert.ok(carol.split('\n').every((l) => l === '' || l.startsWith('#')), carol);
      assert.ok(content(files, '/etc/dovecot/sieve/vacation/alice@example.com.sieve').includes('vacation :days'));
    }
  });

  it('run after spam-to-junk and before the user script, on both releases', () => {
    const d12 = content(renderDovecot({ config: config('debian-12'), keys: fixtureKeys(['example.com']), release: 'debian-12' }), '/etc/dovecot/dovecot.conf');
    assert.match(d12, /sieve_before = file:\/etc\/dovecot\/sieve\/spam-to-junk\.sieve;.*\n(.*\n)?\s*sieve_before2 = file:\/etc\/dovecot\/sieve\/vacation\/%u\.sieve;bindir=~\/\.sieve-bin\/vacation/);
    const d13 = content(renderDovecot({ config: config('debian-13'), keys: fixtureKeys(['example.com']), release: 'debian-13' }), '/etc/dovecot/dovecot.conf');
    assert.ok(d13.indexOf('sieve_script spam-to-junk') < d13.indexOf('sieve_script vacation'));
    assert.match(d13, /path = \/etc\/dovecot\/sieve\/vacation\/%\{user\}\.sieve/);
  });
});

describe('quota', () => {
  it('warns at 95% and 80% through the quota-warning service, in each release dialect', () => {
    const d12 = content(renderDovecot({ config: config('debian-12'), keys: fixtureKeys(['example.com']), release: 'debian-12' }), '/etc/dovecot/dovecot.conf');
    assert.match(d12, /quota_warning = storage=95%% quota-warning 95 %u\n\s*quota_warning2 = storage=80%% quota-warning 80 %u/);
    assert.match(d12, /quota_grace = 0\n/);
    const d13 = content(renderDovecot({ config: config('debian-13'), keys: fixtureKeys(['example.com']), release: 'debian-13' }), '/etc/dovecot/dovecot.conf');
    assert.match(d13, /warning warn-95 \{\n\s*quota_storage_percentage = 95\n\s*execute quota-warning \{\n\s*args = 95 %\{user\}/);
    assert.match(d13, /quota_storage_grace = 0\n/);
    for (const conf of [d12, d13]) {
      assert.match(conf, /quota_status_overquota = "552 5\.2\.2 Mailbox is full"/);
      assert.match(conf, /service quota-status \{\n\s*executable = quota-status -p postfix\n\s*unix_listener \/var\/spool\/postfix\/private\/quota-status \{/);
      assert.match(conf, /service quota-warning \{\n\s*executable = script \/etc\/dovecot\/quota-warning\.sh\n\s*user = vmail/);
    }
  });

  it('is checked by Postfix at RCPT and at END-OF-DATA, and skipped if Dovecot does not answer', () => {
    const main = content(renderPostfix({ config: config('debian-13'), keys: fixtureKeys(['example.com']), release: 'debian-13' }), '/etc/postfix/main.cf');
    const policy = 'check_policy_service { unix:private/quota-status, default_action=DUNNO }';
    assert.match(main, new RegExp(`^smtpd_recipient_restrictions = check_recipient_access lmdb:/etc/postfix/send_only_recipients,\\n  ${policy.replace(/[{}.]/g, '\\$&')}$`, 'm'));
    assert.ok(main.includes(`\nsmtpd_end_of_data_restrictions = ${policy}\n`));
  });

  it('sends warning texts from the config, with {percent} and {address} filled in, and is valid sh', () => {
    const c = config('debian-12', { quota_warning: { subject: 'Postfach zu {percent}% voll', body: "{address}: it's {percent}%.\n" } });
    const script = quotaWarningScript(c, '/usr/lib/dovecot/dovecot-lda', 'plugin/quota=count:User quota:noenforcing');
    assert.equal(spawnSync('sh', ['-n'], { input: script }).status, 0);
    assert.match(script, /95\)\n\s*subject='Postfach zu 95% voll'\n\s*body='\{address\}: it'\\''s 95%\.\n'/);
    assert.match(script, /-o 'plugin\/quota=count:User quota:noenforcing'/);
    // Only printable ASCII goes into the header as it is.
    assert.doesNotMatch(script, /base64/);
    const umlaut = quotaWarningScript(config('debian-13', { quota_warning: { subject: 'Überfüllt', body: 'x' } }), '/lda', 'quota_enforce=no');
    assert.match(umlaut, /=\?UTF-8\?B\?\$\(printf '%s' "\$subject" \| base64 -w0\)\?=/);
  });

  it('runs the script: the message goes to the LDA with the texts filled in', () => {
    const c = config('debian-12', { quota_warning: { subject: '{percent}% for {address}', body: 'Hello {address}, {percent}% used.\n' } });
    const script = quotaWarningScript(c, 'cat', 'x').replace(/\| cat -d .*$/m, '| cat');
    const r = spawnSync('sh', ['-s', '80', 'bob@example.com'], { input: script, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Subject: 80% for bob@example\.com$/m);
    assert.match(r.stdout, /^To: <bob@example\.com>$/m);
    assert.match(r.stdout, /^Auto-Submitted: auto-generated$/m);
    assert.match(r.stdout, /\n\nHello bob@example\.com, 80% used\.\n$/);
    assert.notEqual(spawnSync('sh', ['-s', '50', 'bob@example.com'], { input: script }).status, 0);
  });
});
