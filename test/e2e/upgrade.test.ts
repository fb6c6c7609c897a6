// `mailrig upgrade --to debian-13` on a provisioned Debian 12 host holding real mail: 500 messages in
// folders with flags, a Sieve script, Bayes data in Redis and 20 messages queued for a destination
// that refuses. apt is made to fail once after the sources switch: that run stops with a report and
// the mail services stopped; the second run continues and completes. Meanwhile a sender keeps
// trying port 25: it is told to retry (4xx, or no answer while Postfix is stopped), never refused,
// and its message is delivered after the upgrade. Afterwards the host runs Debian 13, `mailrig
// apply` changes nothing, every message and flag is there over IMAP, DKIM verifies against the
// records printed before the upgrade, the served key still matches the TLSA record, the queue is
// intact, both users log in, and Sieve still files. Then, on the same host, the whole attack suite
// (test/support/attack-suite.ts, as security.test.ts runs it on the provisioned hosts): an upgraded
// host is as hard to attack as a provisioned one. Bookworm only: the upgrade starts from Debian 12.
// The upgrade's packages are kept between runs in a cache beside the images' (test/support/upgrade.ts).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { Session, smtpSession, sleep } from '../support/attack.js';
import { describeAttacks } from '../support/attack-suite.js';
import { dkimResults, show, submit, type Workspace } from '../support/e2e.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';
import { publishUpgradeDebs, seedUpgradeDebs } from '../support/upgrade.js';

const USERS = [
  { address: PROVISIONED.alice, password: PROVISIONED.alicePassword },
  { address: PROVISIONED.bob, password: PROVISIONED.bobPassword },
];
const RESTIC_REPO = '/var/backups/mailrig-restic';
const MESSAGES = 500;
const QUEUED = 20;
/** Makes the first dpkg run of apt fail, once: the fault after the sources switch. */
const FAIL_ONCE = '/etc/mailrig-test-apt-fails-once';
const FAIL_HOOK = `DPkg::Pre-Invoke { "if [ -e ${FAIL_ONCE} ]; then rm -f ${FAIL_ONCE}; echo test-apt-refuses-this-once >&2; exit 1; fi"; };\n`;

const describeOn = releasesUnderTest().includes('bookworm') ? describe : describe.skip;

describeOn('mailrig upgrade --to debian-13 on a provisioned Debian 12 host with mail', { timeout: 40 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;
  let ca: string;
  let knot: KnotServer | undefined;
  /** Set once the upgrade's proof has passed: the attacks need the upgraded host. */
  let upgraded = false;

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws, ca } = await startProvisionedHost({ release: 'bookworm', name: 'upgrade' }));
    seedUpgradeDebs(host);
  });
  after(async () => {
    if (host) publishUpgradeDebs(host);
    await knot?.stop();
    await host?.stop();
  });

  it('upgrades in place: mail, flags, Sieve, Bayes, queue, keys and logins carry over; senders retry; a failed run continues', async () => {
    const imap = (u: (typeof USERS)[number]) => ({ host: host.address, user: u.address, password: u.password, ca, servername: PROVISIONED.servername });

    // A sender's retry is accepted at once, not after rspamd's greylisting delay (its own matter, not the upgrade's).
    const yaml = join(ws.dir, 'mailrig.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('  greylisting: true\n', '  greylisting: false\n'));
    // A local restic repository (its apply converges the greylisting change too): the upgrade backs up first.
    const converge = await ws.mailrig(['backup', 'init', '--repo', RESTIC_REPO, '--yes'], { hostFlags: true });
    assert.equal(converge.code, 0, show(converge));

    // ---- the mail a server has after a while
    const fill = await host.exec(fillScript(host.gateway), { timeoutMs: 10 * 60_000 });
    assert.equal(fill.code, 0, `${fill.stdout}\n${fill.stderr}`);
    const learnedBefore = await bayesLearned(host);
    assert.ok(learnedBefore >= 100, `Bayes tokens in Redis after training: ${learnedBefore}`);
    const queue = await queuedIds(host, `someone@[${host.gateway}]`, QUEUED);
    const before = new Map<string, Snapshot>();
    for (const u of USERS) before.set(u.address, await snapshot(imap(u)));
    const total = [...before.values()].reduce((n, s) => n + s.size, 0);
    assert.ok(total >= MESSAGES, `${total} messages stored`);
    const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', PROVISIONED.domain]);
    assert.equal(zone.code, 0, show(zone));
    const tlsa = /TLSA\s+3 1 1 ([0-9a-fA-F]+)/.exec(zone.out)?.[1]?.toLowerCase();
    assert.ok(tlsa, zone.out);
    assert.equal(await servedSpki(host), tlsa, 'the served key matches the TLSA record before');
    const keys = await host.exec('sha256sum /etc/mailrig/tls/*.pem /var/lib/rspamd/dkim/*');

    // ---- bad input changes nothing
    const wrong = await ws.mailrig(['upgrade', '--to', 'debian-14', '--yes']);
    assert.equal(wrong.code, 2, show(wrong));
    assert.match(wrong.err, /--to debian-14: mailrig upgrades to debian-13 only/);
    const dry = await ws.mailrig(['upgrade', '--to', 'debian-13', '--dry-run']);
    assert.equal(dry.code, 0, show(dry));
    assert.match(dry.out, /Preflight passed/);
    assert.match(dry.out, /apt-get full-upgrade/);
    assert.match(dry.out, /Expected: about/);
    assert.match(dry.out, /Backup: no backup yet in .*: the upgrade takes one first/);
    assert.equal(await snapshots(host), 0, 'the dry run takes no backup');
    assert.equal((await host.exec('cat /etc/debian_version; ls /var/lib/mailrig/state/upgrade 2>&1; postconf -h smtpd_client_restrictions')).stdout.split('\n')[0]?.startsWith('12.'), true);
    assert.match((await host.exec('grep -h "^deb " /etc/apt/sources.list')).stdout, /bookworm/);

    // ---- the upgrade, with apt failing once after the sources switch, and a sender trying port 25 throughout
    await host.exec(`printf '%s' '${FAIL_HOOK}' > /etc/apt/apt.conf.d/00mailrig-test-fail-once && touch ${FAIL_ONCE}`);
    const sender = retryingSender(host, `<during-upgrade-${Date.now()}@outside.test>`);
    let during: Awaited<typeof sender.done>;
    try {
      const t0 = Date.now();
      const first = await ws.mailrig(['upgrade', '--to', 'debian-13', '--yes']);
      const firstMs = Date.now() - t0;
      assert.equal(first.code, 1, show(first));
      assert.match(first.out, /backup snapshot [0-9a-f]+ saved/);
      assert.match(first.err, /the upgrade to debian-13 stopped while upgrading the packages/);
      assert.match(first.err, /test-apt-refuses-this-once/);
      assert.match(first.err, /Steps done: paused, sources, downloaded, validated, stopped;/);
      assert.match(first.out, /the debian-13 configuration passed the checks of the debian-13 daemons \(\d+ packages unpacked to run them\)/);
      assert.equal((await host.exec('ls -d /var/lib/mailrig/state/upgrade.debs /var/lib/mailrig/state/upgrade.validate 2>/dev/null; grep -c upgrade /proc/mounts')).stdout, '0\n', 'the unpacked packages and the stage are gone, no mount left');
      assert.match(first.err, /run mailrig upgrade --to debian-13 again: it continues with "packages"/);
      const stopped = await host.exec('pgrep -x master; pgrep -x dovecot; find /var/spool/postfix/deferred /var/spool/postfix/active /var/spool/postfix/incoming -type f | wc -l');
      assert.equal(stopped.stdout.trim(), String(QUEUED), `Postfix and Dovecot stopped, the queue on disk: ${stopped.stdout}`);
      const t1 = Date.now();
      const second = await ws.mailrig(['upgrade', '--to', 'debian-13', '--yes']);
      const secondMs = Date.now() - t1;
      assert.equal(second.code, 0, show(second));
      assert.match(second.out, /upgraded to debian-13 in/);
      assert.doesNotMatch(second.out, /Backup:/, 'a continued upgrade took its backup on its first run');
      during = await sender.done;
      console.log(`upgrade: first run (stopped by the fault) ${(firstMs / 1000).toFixed(1)} s, second run ${(secondMs / 1000).toFixed(1)} s; ${second.out.trim().split('\n').at(-1) ?? ''}`);
      console.log(`upgrade: port 25 told the sender to retry for ${(during.downtimeMs / 1000).toFixed(1)} s (${during.deferrals} deferrals: ${[...during.replies].join(', ')})`);
      assert.ok(during.deferrals > 0, 'the sender was told to retry at least once');
      assert.ok([...during.replies].every((r) => !/^5/.test(r)), `never a permanent refusal: ${[...during.replies].join(', ')}`);
    } finally {
      sender.stop();
    }

    // ---- afterwards
    assert.match((await host.exec('cat /etc/debian_version')).stdout, /^13\./);
    assert.match(readFileSync(join(ws.dir, 'mailrig.yaml'), 'utf8'), /release: debian-13/);
    assert.equal(await snapshots(host), 1, 'the snapshot taken before the upgrade, readable by Debian 13\'s restic');
    const apply = await ws.mailrig(['apply', '--yes']);
    assert.equal(apply.code, 0, show(apply));
    assert.match(apply.out, /no changes/);
    const state = await host.exec('systemctl is-system-running; systemctl --failed --plain --no-legend');
    assert.equal(state.stdout, 'running\n', state.stdout);
    assert.equal((await host.exec('sha256sum /etc/mailrig/tls/*.pem /var/lib/rspamd/dkim/*')).stdout, keys.stdout, 'TLS and DKIM keys unchanged');
    assert.equal(await servedSpki(host), tlsa, 'the served key still matches the TLSA record');
    assert.deepEqual(await queuedIds(host, `someone@[${host.gateway}]`, QUEUED), queue, 'the queued messages are still queued, under the same ids');
    assert.ok((await bayesLearned(host)) >= learnedBefore, 'the Bayes data in Redis carried over');
    for (const u of USERS) {
      const now = await snapshot(imap(u));
      for (const [id, was] of before.get(u.address) ?? new Map<string, string>()) assert.equal(now.get(id), was, `${u.address} ${id}`);
    }
    const arrived = await waitFor(async () => (await snapshot(imap(USERS[0]!))).has(during.messageId), 'the message sent during the upgrade is in alice\'s mailbox');
    assert.ok(arrived);

    // Sieve still files, and what the host signs verifies against the records printed before the upgrade.
    await submit(
      { host: host.address, port: 587, user: PROVISIONED.alice, password: PROVISIONED.alicePassword, ca, servername: PROVISIONED.servername },
      { from: PROVISIONED.alice, to: PROVISIONED.bob, subject: '[list] after the upgrade', text: 'Filed by the Sieve script, signed by the same keys.' },
    );
    const filed = await waitFor(async () => (await folderSources(imap(USERS[1]!), 'Lists')).find((m) => /\[list\] after the upgrade/.test(m.toString())), 'bob\'s Sieve script filed the message into Lists');
    knot = await startKnot({ zones: [{ origin: PROVISIONED.domain, text: zone.out }] });
    const results = await dkimResults(filed, knot.address);
    assert.equal(results.length, 2, results.join('; '));
    assert.ok(results.every((r) => r.endsWith(`${PROVISIONED.domain} pass`)), results.join('; '));

    // Already upgraded: refused, exit 2.
    const again = await ws.mailrig(['upgrade', '--to', 'debian-13', '--yes']);
    assert.equal(again.code, 2, show(again));
    assert.match(again.err, /already debian-13/);
    upgraded = true;
  });

  describeAttacks('attacks on the Debian 12 host upgraded to 13', () => {
    if (!upgraded) throw new Error('the upgrade test did not pass: there is no upgraded host to attack');
    return { host, ws, ca };
  });
});

/** Folders, 500 messages, flags and a keyword, a Sieve script, Bayes training, 20 messages for a refusing destination. */
function fillScript(gateway: string): string {
  return `set -e
for u in ${USERS.map((u) => u.address).join(' ')}; do for f in Work Archive Lists; do doveadm mailbox create -u "$u" "$f" 2>/dev/null || true; done; done
i=0
while [ $i -lt ${MESSAGES} ]; do
  if [ $((i % 2)) = 0 ]; then u=${PROVISIONED.alice}; else u=${PROVISIONED.bob}; fi
  case $((i % 3)) in 0) f=INBOX ;; 1) f=Work ;; *) f=Archive ;; esac
  printf 'From: sender%d@outside.test\\r\\nTo: %s\\r\\nSubject: message %d\\r\\nMessage-ID: <upgrade-%d@outside.test>\\r\\nDate: Tue, 01 Dec 2026 10:00:00 +0000\\r\\n\\r\\nMessage %d, stored before the upgrade.\\r\\n' $i "$u" $i $i $i | doveadm save -u "$u" -m "$f"
  i=$((i + 1))
done
doveadm flags add -u ${PROVISIONED.alice} '\\Seen' mailbox Work ALL
doveadm flags add -u ${PROVISIONED.alice} '\\Flagged \\Answered' mailbox INBOX 1:20
doveadm flags add -u ${PROVISIONED.bob} '\\Seen \\Deleted' mailbox Archive 1:5
doveadm flags add -u ${PROVISIONED.bob} 'Important' mailbox INBOX 1:10
printf 'require ["fileinto"];\\nif header :contains "subject" "[list]" { fileinto "Lists"; stop; }\\n' | doveadm sieve put -u ${PROVISIONED.bob} -a lists
i=0
while [ $i -lt 20 ]; do
  printf 'From: spammer@outside.test\\nTo: ${PROVISIONED.bob}\\nSubject: cheap pills %d\\nDate: Tue, 01 Dec 2026 10:00:00 +0000\\nMessage-ID: <spam-%d@outside.test>\\n\\nBuy cheap pills now %d, viagra casino lottery winner, click here to claim your prize money today, limited offer %d. More words, so that the classifier has plenty of tokens to learn from.\\n' $i $i $i $i > /tmp/spam-$i.eml
  i=$((i + 1))
done
rspamc learn_spam /tmp/spam-*.eml | grep -c 'success = true'
rm -f /tmp/spam-*.eml
i=0
while [ $i -lt ${QUEUED} ]; do
  printf 'Subject: queued %d\\n\\nWaits in the queue.\\n' $i | sendmail -f ${PROVISIONED.alice} 'someone@[GATEWAY]'
  i=$((i + 1))
done
`.replace('GATEWAY', gateway);
}

/** The Bayes tokens rspamd keeps in Redis (its RS_<hash> keys): what training left behind. */
async function bayesLearned(host: TestHost): Promise<number> {
  const r = await host.exec("redis-cli --raw --scan --pattern 'RS_*' | wc -l");
  return Number(r.stdout.trim());
}

/** The queue ids of the `count` messages queued for `recipient`, once all are there. */
async function queuedIds(host: TestHost, recipient: string, count: number): Promise<string[]> {
  return waitFor(async () => {
    const r = await host.exec(`postqueue -j | grep -F '"address": "${recipient}"' | sed 's/.*"queue_id": *"\\([0-9A-Za-z]*\\)".*/\\1/' | sort`);
    const ids = r.stdout.split('\n').filter(Boolean);
    return ids.length === count ? ids : undefined;
  }, `${count} messages queued for ${recipient}`);
}

/** Message-ID → flags (sorted), over IMAP in every folder: the login works, and this is what a client sees. */
type Snapshot = Map<string, string>;
async function snapshot(opts: { host: string; user: string; password: string; ca: string; servername: string }): Promise<Snapshot> {
  const client = new ImapFlow({ host: opts.host, port: 993, secure: true, auth: { user: opts.user, pass: opts.password }, tls: { ca: opts.ca, servername: opts.servername }, logger: false });
  await client.connect();
  const out: Snapshot = new Map();
  try {
    for (const box of await client.list()) {
      const lock = await client.getMailboxLock(box.path);
      try {
        if (!(client.mailbox ? client.mailbox.exists : 0)) continue;
        for await (const m of client.fetch('1:*', { envelope: true, flags: true })) {
          const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort().join(' ');
          out.set(m.envelope?.messageId ?? `${box.path}#${m.uid}`, `${box.path}|${flags}`);
        }
      } finally {
        lock.release();
      }
    }
  } finally {
    await client.logout();
  }
  return out;
}

async function folderSources(opts: { host: string; user: string; password: string; ca: string; servername: string }, folder: string): Promise<Buffer[]> {
  const client = new ImapFlow({ host: opts.host, port: 993, secure: true, auth: { user: opts.user, pass: opts.password }, tls: { ca: opts.ca, servername: opts.servername }, logger: false });
  await client.connect();
  try {
    const lock = await client.getMailboxLock(folder);
    try {
      const sources: Buffer[] = [];
      if (client.mailbox && client.mailbox.exists > 0) for await (const m of client.fetch('1:*', { source: true })) if (m.source) sources.push(m.source);
      return sources;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

/** SHA-256 of the public key port 25 serves after STARTTLS: what a TLSA 3 1 1 record names. */
async function servedSpki(host: TestHost): Promise<string> {
  const s = await Session.open({ host: host.address, port: 25, localAddress: host.gateway });
  await s.reply();
  await s.command('EHLO probe.test');
  const r = await s.command('STARTTLS');
  assert.equal(r.code, 220, r.raw);
  const plain = s.detach();
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const t = tlsConnect({ socket: plain, servername: PROVISIONED.servername, rejectUnauthorized: false }, () => {
      const cert = t.getPeerCertificate().raw;
      t.destroy();
      resolve(cert);
    });
    t.once('error', reject);
  });
  return createHash('sha256').update(new X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * A sender as an MTA behaves: it tries port 25 about once a second, from before the upgrade until
 * its message is accepted. Until intake is paused it only asks (RCPT, then RSET); once told to retry
 * (a 4xx, or no connection while Postfix is stopped) it sends its message at the next acceptance.
 */
function retryingSender(host: TestHost, messageId: string) {
  const replies = new Set<string>();
  let stopped = false;
  let deferrals = 0;
  let firstDeferral = 0;
  const done = (async () => {
    for (;;) {
      if (stopped) throw new Error('the sender was stopped before its message was accepted');
      let reply = '';
      try {
        const { c } = await smtpSession({ host: host.address, port: 25, localAddress: host.gateway, timeoutMs: 10_000 }, 'sender.outside.test');
        try {
          const mail = await c.command('MAIL FROM:<sender@outside.test>');
          const rcpt = mail.code === 250 ? await c.command(`RCPT TO:<${PROVISIONED.alice}>`) : mail;
          reply = String(rcpt.code);
          if (rcpt.code === 250 && firstDeferral) {
            const data = await c.command('DATA');
            if (data.code === 354) {
              c.send(`From: sender@outside.test\r\nTo: ${PROVISIONED.alice}\r\nSubject: sent during the upgrade\r\nMessage-ID: ${messageId}\r\nDate: ${new Date().toUTCString()}\r\n\r\nTold to retry, retried.\r\n.\r\n`);
              const end = await c.reply();
              reply = String(end.code);
              if (end.code === 250) {
                await c.command('QUIT').catch(() => undefined);
                return { messageId, replies, deferrals, downtimeMs: Date.now() - firstDeferral };
              }
            }
          } else if (rcpt.code === 250) {
            await c.command('RSET');
          }
          await c.command('QUIT').catch(() => undefined);
        } finally {
          c.close();
        }
      } catch (e) {
        reply = `no session (${e instanceof Error ? e.message.slice(0, 60) : String(e)})`;
      }
      if (reply !== '250') {
        replies.add(reply.startsWith('no session') ? 'no session' : reply);
        deferrals++;
        firstDeferral ||= Date.now();
      }
      await sleep(1000);
    }
  })();
  // A stopped sender's promise is no longer awaited: its rejection is expected, not unhandled.
  return { done, stop: () => ((stopped = true), void done.catch(() => undefined)) };
}

/** Polls until `probe` yields a value; the test's own timeout bounds the wait. */
async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (i % 60 === 59) console.log(`still waiting: ${what}`);
    await sleep(1000);
  }
}

/** How many snapshots the host's restic repository holds. */
async function snapshots(host: TestHost): Promise<number> {
  const r = await host.exec('. /etc/mailrig/backup.env && restic snapshots --json --no-lock');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as unknown[]).length;
}
