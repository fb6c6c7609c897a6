// What mailbox users expect, proven with real clients on a provisioned host of each release: a
// message that would take a mailbox over its quota is refused during SMTP (552 at RCPT when the
// client declares its SIZE; at end-of-data when it does not, on Dovecot 2.4) and nothing is stored; passing 80%
// and then 95% of the quota brings one warning each; `mailrig user list` shows the usage; a vacation reply goes once to
// a sender, and never to bulk or auto-submitted mail; app passwords log in where they are meant to and
// stop when removed, and a restricted main password is refused; a user sending a burst is cut off at
// its sending limit while others still send, and the admin hears of it once. Hosts start from the cached provisioned image
// (provisioning is provision.test.ts's proof); the mailbox settings are applied to them.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { Conversation } from '../../src/net/smtp.js';
import { fetchInbox, show, type Workspace } from '../support/e2e.js';
import { TEST_HASH, TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const ALICE_PASSWORD = PROVISIONED.alicePassword;
const QUOTA = 200 * 1024;
/** Four of these take bob past 80% (not 95%) of QUOTA with their headers; a fifth would not fit. */
const BIG = 41_000;
/** What Postfix, rspamd and Dovecot add to a message's text on its way in (headers, CRLF), at most. */
const HEADER_ROOM = 3_000;

/** Text of `bytes` bytes in 76-character lines, so it travels as 7bit. */
const filler = (bytes: number) => `${'x'.repeat(75)}\n`.repeat(Math.ceil(bytes / 76)).slice(0, bytes);

/** bob's own sending limit, per day: a day never ends inside the burst, so the count is exact. */
const BOB_PER_DAY = 20;
const BURST = 500;
/**
 * Messages per SMTP session in the burst. Postfix slows a session down after 10 refused commands
 * (smtpd_soft_error_limit, 1 s each) and drops it after 20: the burst opens a new session, as a
 * spamming client would, before that.
 */
const PER_SESSION = 9;

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`mailboxes on a provisioned ${debian} host: quota, warnings, vacation`, { timeout: 30 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let ca: string;
    const imap = (user: string, password = TEST_PASSWORD) => ({ host: host.address, user, password, ca, servername: 'mail.example.com' });
    const send = async (message: nodemailer.SendMailOptions) => {
      const transport = nodemailer.createTransport({
        host: host.address,
        port: 587,
        requireTLS: true,
        auth: { user: 'alice@example.com', pass: ALICE_PASSWORD },
        tls: { ca, servername: 'mail.example.com' },
      });
      try {
        return await transport.sendMail(message);
      } finally {
        transport.close();
      }
    };
    /** Waits until Postfix has handed `count` messages to Dovecot for `to` (LMTP said 250: Sieve has run). */
    const delivered = async (to: string, count: number) => {
      const pattern = `to=<${to}>.*relay=.*dovecot-lmtp.*status=sent`;
      for (let i = 0; i < 240; i++) {
        const r = await host.exec(`grep -c -E '${pattern}' /var/log/postfix.log || true`);
        if (Number(r.stdout.trim()) >= count) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`${count} deliveries to ${to} within 2 minutes`);
    };
    /** Waits until Postfix's queue is empty: every reply a delivery made has gone out. */
    const queueEmpty = async () => {
      for (let i = 0; i < 240; i++) {
        if ((await host.exec('postqueue -j')).stdout.trim() === '') return;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`the queue is still not empty: ${(await host.exec('postqueue -p')).stdout}`);
    };
    const subjects = (sources: Buffer[]) => sources.map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1] ?? '');

    before(async () => {
      await cleanupStaleTestHosts();
      ({ host, ws, ca } = await startProvisionedHost({ release, name: `mailbox-${release}` }));
      const path = join(ws.dir, 'mailrig.yaml');
      const bob = `      bob:\n        password_hash: "${TEST_HASH}"\n`;
      const yaml = readFileSync(path, 'utf8');
      assert.ok(yaml.includes(bob), yaml);
      writeFileSync(
        path,
        // dave's main password is for no service: only his app passwords log in. The failed logins
        // below would otherwise have fail2ban block this machine.
        yaml.replace(bob, `${bob}        quota: ${QUOTA}\n        limits: { per_day: ${BOB_PER_DAY}, recipients: 2 }\n      carol:\n        password_hash: "${TEST_HASH}"\n      dave:\n        password_hash: "${TEST_HASH}"\n        main_password_only: []\n`).replace(
          /^ {4}aliases:.*\n/m,
          // Other senders for alice: Sieve's vacation answers each sender once, so the bulk and
          // auto-submitted messages must come from senders that have not had a reply yet.
          '    aliases:\n      list-robot: alice\n      robot: alice\n',
        ) + 'security:\n  max_auth_failures: 50\n',
      );
      writeFileSync(join(ws.dir, 'away.txt'), 'I am away until Monday.\n');
      const vacation = await ws.mailrig(['user', 'vacation', 'carol@example.com', 'on', '--subject', 'Away from my desk', '--body-file', 'away.txt']);
      assert.equal(vacation.code, 0, show(vacation));
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
    });
    after(async () => {
      await host?.stop();
    });

    /**
     * Whether `user` can log in over IMAP (993) and over submission (587) with `password`, both tried
     * at once. Dovecot answers each failure after its failure delay plus a penalty that grows with every
     * failure from the address before it: failures tried together wait once instead of in turn.
     */
    const logins = async (user: string, password: string) => {
      const [imap, smtp] = await Promise.all([imapLogin(user, password), smtpLogin(user, password)]);
      return { imap, smtp };
    };
    const imapLogin = async (user: string, password: string) => {
      const client = new ImapFlow({ host: host.address, port: 993, secure: true, auth: { user, pass: password }, tls: { ca, servername: 'mail.example.com' }, logger: false });
      return client.connect().then(
        async () => {
          await client.logout();
          return true;
        },
        (e: Error & { authenticationFailed?: boolean }) => {
          if (e.authenticationFailed) return false;
          throw e;
        },
      );
    };
    const smtpLogin = async (user: string, password: string) => {
      const transport = nodemailer.createTransport({ host: host.address, port: 587, requireTLS: true, auth: { user, pass: password }, tls: { ca, servername: 'mail.example.com' } });
      try {
        return await transport.verify().then(
          () => true,
          (e: Error & { code?: string }) => {
            if (e.code === 'EAUTH') return false;
            throw e;
          },
        );
      } finally {
        transport.close();
      }
    };

    it('app passwords: IMAP and submission with one, --only imap keeps it off submission, rm revokes it; no restart', async () => {
      const dovecotPid = async () => (await host.exec('systemctl show -p MainPID --value dovecot')).stdout.trim();
      const pid = await dovecotPid();
      const add = async (...args: string[]) => {
        const r = await ws.mailrig(['user', 'app-password', 'add', 'dave@example.com', ...args]);
        assert.equal(r.code, 0, show(r));
        const password = /^ {4}(\S+)$/m.exec(r.out)?.[1];
        assert.ok(password, r.out);
        return password;
      };
      const phone = await add('--name', 'phone');
      const tablet = await add('--name', 'tablet', '--only', 'imap');
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      // The main password is for no service; carol's, unrestricted, still works. All tried at once.
      const [phoneOk, tabletOk, mainOk, carolOk] = await Promise.all([
        logins('dave@example.com', phone),
        logins('dave@example.com', tablet),
        logins('dave@example.com', TEST_PASSWORD),
        logins('carol@example.com', TEST_PASSWORD),
      ]);
      assert.deepEqual(phoneOk, { imap: true, smtp: true }, 'phone');
      assert.deepEqual(tabletOk, { imap: true, smtp: false }, 'tablet');
      assert.deepEqual(mainOk, { imap: false, smtp: false }, "dave's main password");
      assert.deepEqual(carolOk, { imap: true, smtp: true }, 'carol');
      const list = await ws.mailrig(['user', 'app-password', 'list', 'dave@example.com']);
      assert.match(list.out, /^phone +\d{4}-\d{2}-\d{2} +imap, pop3, smtp, sieve, dav$/m, show(list));
      assert.match(list.out, /^tablet +\d{4}-\d{2}-\d{2} +imap$/m);
      const rm = await ws.mailrig(['user', 'app-password', 'rm', 'dave@example.com', 'phone']);
      assert.equal(rm.code, 0, show(rm));
      const applied = await ws.mailrig(['apply', '--yes']);
      assert.equal(applied.code, 0, show(applied));
      const [phoneGone, tabletKept] = await Promise.all([logins('dave@example.com', phone), logins('dave@example.com', tablet)]);
      assert.deepEqual(phoneGone, { imap: false, smtp: false }, 'phone, removed');
      assert.deepEqual(tabletKept, { imap: true, smtp: false }, 'tablet, kept');
      assert.equal(await dovecotPid(), pid, 'Dovecot was not restarted');
    });

    it('passing 80%, then 95% of the quota brings one warning each, and user list shows the usage', async () => {
      for (const n of [1, 2, 3, 4]) {
        await send({ from: 'alice@example.com', to: 'bob@example.com', subject: `big ${n}`, text: filler(BIG) });
      }
      await delivered('bob@example.com', 4);
      const inbox = subjects(await fetchInbox(imap('bob@example.com'), 5));
      assert.equal(inbox.filter((s) => /^Your mailbox is 80% full$/.test(s)).length, 1, inbox.join('\n'));
      // A small one more stays under 95%: no other warning.
      await send({ from: 'alice@example.com', to: 'bob@example.com', subject: 'small', text: 'Small.' });
      await delivered('bob@example.com', 5);
      const after = subjects(await fetchInbox(imap('bob@example.com'), 6));
      assert.deepEqual(after.filter((s) => /full/.test(s)), ['Your mailbox is 80% full'], after.join('\n'));
      const list = await ws.mailrig(['user', 'list'], { hostFlags: true });
      assert.equal(list.code, 0, show(list));
      assert.match(list.out, /^bob@example\.com +\d+K \(8\d%\) +200K /m, list.out);
      assert.match(list.out, /^ADDRESS +USED +QUOTA/);
      // One more that takes bob to about 97%, past 95% without filling the mailbox: the second
      // warning, once. Sized from what Dovecot counts now (KiB), less room for its headers.
      const quota = await host.exec('doveadm -f flow quota get -u bob@example.com');
      const usedKiB = Number(/Type=STORAGE Value=(\d+)/.exec(quota.stdout)?.[1] ?? Number.NaN);
      assert.ok(usedKiB > 0, quota.stdout + quota.stderr);
      const nearly = Math.floor((0.97 * QUOTA - usedKiB * 1024 - HEADER_ROOM) * (76 / 77));
      await send({ from: 'alice@example.com', to: 'bob@example.com', subject: 'nearly', text: filler(nearly) });
      await delivered('bob@example.com', 6);
      const full = subjects(await fetchInbox(imap('bob@example.com'), 8));
      assert.deepEqual(full.filter((s) => /full/.test(s)).sort(), ['Your mailbox is 80% full', 'Your mailbox is 95% full'], full.join('\n'));
      const listed = await ws.mailrig(['user', 'list'], { hostFlags: true });
      assert.match(listed.out, /^bob@example\.com +\d+K \(9[5-9]%\) +200K /m, listed.out);
    });

    /** An SMTP conversation on 465, greeted and logged in as `user`; the caller destroys the socket. */
    const loggedIn = async (user: string, password: string) => {
      const socket = connect({ host: host.address, port: 465, ca, servername: 'mail.example.com' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const c = new Conversation(socket, 30_000);
      try {
        assert.equal((await c.reply()).code, 220);
        assert.equal((await c.command('EHLO client.example')).code, 250);
        assert.equal((await c.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`)).code, 235);
      } catch (e) {
        socket.destroy();
        throw e;
      }
      return { socket, c };
    };

    it('a message that would exceed the quota is refused with 552 at RCPT (declared SIZE) and at end-of-data', async () => {
      const { socket, c } = await loggedIn('alice@example.com', ALICE_PASSWORD);
      try {
        assert.equal((await c.command(`MAIL FROM:<alice@example.com> SIZE=${60 * 1024}`)).code, 250);
        const rcpt = await c.command('RCPT TO:<bob@example.com>');
        assert.equal(rcpt.code, 552, rcpt.raw);
        assert.match(rcpt.raw, /^552 5\.2\.2 .*Mailbox is full/);
        // The same size to a mailbox with room is fine.
        assert.equal((await c.command('RCPT TO:<carol@example.com>')).code, 250);
        await c.command('RSET');
        await c.command('QUIT');
      } finally {
        socket.destroy();
      }
      // Without SIZE: Dovecot 2.4's quota-status also answers at end-of-data, so the message is
      // refused once its data is in. Dovecot 2.3's answers DUNNO there: the message is accepted,
      // LMTP refuses it for the full mailbox, and the sender gets a bounce.
      const tooBig = { from: 'alice@example.com', to: 'bob@example.com', subject: 'too big', text: filler(60 * 1024) };
      const refusedAtEndOfData = debian === 'debian-13';
      if (refusedAtEndOfData) {
        await assert.rejects(
          send(tooBig),
          (e: Error & { responseCode?: number; response?: string }) => e.responseCode === 552 && /Mailbox is full/.test(e.response ?? ''),
        );
      } else {
        await send(tooBig);
      }
      await queueEmpty();
      const inbox = subjects(await fetchInbox(imap('bob@example.com'), 8));
      assert.equal(inbox.length, 8, inbox.join('\n'));
      assert.ok(!inbox.includes('too big'));
      const bounced = (await host.exec("grep -c 'status=bounced' /var/log/postfix.log || true")).stdout.trim();
      assert.equal(bounced, refusedAtEndOfData ? '0' : '1');
    });

    it('vacation: one reply per sender, none to bulk or auto-submitted mail', async () => {
      await send({ from: 'alice@example.com', to: 'carol@example.com', subject: 'hello 1', text: 'First.' });
      await delivered('carol@example.com', 1);
      await send({ from: 'alice@example.com', to: 'carol@example.com', subject: 'hello 2', text: 'Second.' });
      await send({
        from: 'list-robot@example.com',
        to: 'carol@example.com',
        subject: 'newsletter',
        text: 'Bulk.',
        headers: { Precedence: 'bulk' },
      });
      await send({
        from: 'robot@example.com',
        to: 'carol@example.com',
        subject: 'automatic',
        text: 'Auto.',
        headers: { 'Auto-Submitted': 'auto-replied' },
      });
      await delivered('carol@example.com', 4);
      await queueEmpty();
      await delivered('alice@example.com', 1);
      const carol = subjects(await fetchInbox(imap('carol@example.com'), 4));
      assert.deepEqual(carol.sort(), ['automatic', 'hello 1', 'hello 2', 'newsletter']);
      const alice = await fetchInbox(imap('alice@example.com', ALICE_PASSWORD), 1);
      // (On debian-12 alice also holds the bounce of the too-big message above.)
      const replies = alice.filter((m) => /^Subject: Away from my desk$/m.test(m.toString()));
      assert.equal(replies.length, 1, subjects(alice).join('\n'));
      assert.deepEqual(subjects(alice).filter((x) => x !== 'Undelivered Mail Returned to Sender'), ['Away from my desk']);
      const reply = replies[0]?.toString() ?? '';
      assert.match(reply, /^Auto-Submitted: auto-replied/m);
      assert.match(reply, /I am away until Monday\./);
    });

    /**
     * Submits `count` one-line messages as `user` to `to` over implicit TLS, in 4 parallel sessions of
     * PER_SESSION messages each; the reply code to each end-of-data, and every distinct reply text.
     */
    const burst = async (user: string, password: string, to: string, count: number) => {
      const codes: number[] = [];
      const texts = new Set<string>();
      let next = 0;
      const session = async () => {
        while (next < count) {
          const { socket, c } = await loggedIn(user, password);
          try {
            for (let k = 0; k < PER_SESSION && next < count; k++) {
              const i = next++;
              assert.equal((await c.command(`MAIL FROM:<${user}>`)).code, 250);
              assert.equal((await c.command(`RCPT TO:<${to}>`)).code, 250);
              assert.equal((await c.command('DATA')).code, 354);
              const r = await c.command(`From: <${user}>\r\nTo: <${to}>\r\nSubject: burst ${i}\r\n\r\nMessage ${i}.\r\n.`);
              codes.push(r.code);
              texts.add(r.raw.trim().replace(/ [0-9A-F]{8,}$/, ''));
            }
            await c.command('QUIT');
          } finally {
            socket.destroy();
          }
        }
      };
      await Promise.all([session(), session(), session(), session()]);
      return { codes, texts: [...texts].sort() };
    };
    /** Messages in `user`'s INBOX whose subject contains `subject`, as Dovecot counts them. */
    const stored = async (user: string, subject: string) =>
      Number((await host.exec(`doveadm search -u ${user} mailbox INBOX subject '${subject}' | wc -l`)).stdout.trim());

    it(`sending limits: ${BURST} messages from bob in a burst → exactly ${BOB_PER_DAY} accepted, the rest refused with 451; too many recipients 5xx; alice still sends; one notice; user list marks bob`, async (t) => {
      const t0 = Date.now();
      const { codes, texts } = await burst('bob@example.com', TEST_PASSWORD, 'dave@example.com', BURST);
      t.diagnostic(`burst of ${BURST}: ${Date.now() - t0} ms`);
      const rspamdLog = async () => (await host.exec("grep 'mailrig limits' /var/log/rspamd/rspamd.log | grep -v refused | tail -n 20")).stdout;
      assert.equal(codes.filter((c) => c === 250).length, BOB_PER_DAY, `${texts.join('\n')}\n${await rspamdLog()}`);
      assert.equal(codes.filter((c) => c === 451).length, BURST - BOB_PER_DAY, texts.join('\n'));
      assert.deepEqual(texts.filter((x) => !x.startsWith('250 ')), [`451 4.7.1 Sending limit reached (${BOB_PER_DAY} messages per day); try again later`]);
      // Too many recipients is refused for good (and brings no second notice).
      const socket = connect({ host: host.address, port: 465, ca, servername: 'mail.example.com' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const c = new Conversation(socket, 30_000);
      try {
        await c.reply();
        await c.command('EHLO client.example');
        assert.equal((await c.command(`AUTH PLAIN ${Buffer.from(`\0bob@example.com\0${TEST_PASSWORD}`).toString('base64')}`)).code, 235);
        await c.command('MAIL FROM:<bob@example.com>');
        for (const to of ['alice', 'carol', 'dave']) assert.equal((await c.command(`RCPT TO:<${to}@example.com>`)).code, 250);
        await c.command('DATA');
        const r = await c.command('From: <bob@example.com>\r\nSubject: to three\r\n\r\nHello.\r\n.');
        assert.match(r.raw, /^5\d\d 5\.7\.1 Too many recipients: at most 2 recipients per message/, r.raw);
      } finally {
        socket.destroy();
      }
      // Right after, alice is not affected.
      await send({ from: 'alice@example.com', to: 'dave@example.com', subject: 'alice right after', text: 'Still sending.' });
      await delivered('dave@example.com', BOB_PER_DAY + 1);
      await queueEmpty();
      // Only the accepted messages were queued and delivered: the refused ones never entered the queue.
      assert.equal(await stored('dave@example.com', 'burst'), BOB_PER_DAY);
      assert.equal(await stored('dave@example.com', 'alice right after'), 1);

      // The notice job, run now instead of waiting for its timer; a second run finds nothing new.
      for (const run of [1, 2]) {
        const job = await host.exec('systemctl start mailrig-limit-notice.service');
        assert.equal(job.code, 0, `run ${run}: ${job.stderr}`);
      }
      assert.equal((await host.exec("redis-cli llen 'mailrig:limit-notices'")).stdout.trim(), '0');
      await queueEmpty();
      // admin_email is postmaster@example.com, an alias of alice.
      assert.equal(await stored('alice@example.com', 'Sending limit reached by bob@example.com'), 1);
      assert.equal(await stored('alice@example.com', 'Sending limit reached'), 1);
      const notice = (await host.exec("doveadm fetch -u alice@example.com text mailbox INBOX subject 'Sending limit reached'")).stdout;
      assert.match(notice, /bob@example\.com reached its limit of messages per day/);

      const listed = await ws.mailrig(['user', 'list'], { hostFlags: true });
      assert.equal(listed.code, 0, show(listed));
      assert.match(listed.out, /^bob@example\.com .*sending limited \(last 24h\)$/m, listed.out);
      assert.doesNotMatch(listed.out, /^alice@example\.com .*sending limited/m, listed.out);
      const json = JSON.parse((await ws.mailrig(['user', 'list', '--json'], { hostFlags: true })).out) as Array<{ address: string; limited: boolean }>;
      assert.deepEqual(json.filter((r) => r.limited).map((r) => r.address), ['bob@example.com']);
      t.diagnostic(`sending-limit case: ${Date.now() - t0} ms`);
    });
  });
}
