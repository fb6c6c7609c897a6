// A provisioned server survives what servers go through: a clean reboot (systemd powers off, the
// host boots again from the same disk) brings every service back with the mail in the mailboxes and
// the queue intact, and `mailrig apply` right after changes nothing; a power loss (SIGKILL to PID 1)
// in the middle of delivering 500 messages loses none that the server acknowledged with 250, and
// repeats at most the deliveries that were in flight. Debian 12 and 13, booted with systemd, from the
// cached provisioned image.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { DAEMON_UNITS, checkResults, fetchInbox, resultById, show, submit, type Workspace } from '../support/e2e.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const ALICE_PASSWORD = PROVISIONED.alicePassword;
const LOAD = 500;

for (const release of releasesUnderTest()) describe(`reboots and power loss on a provisioned ${CONFIG_RELEASE[release]} host`, { timeout: 20 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;
  let ca: string;
  const submission = () => ({ host: host.address, port: 587 as const, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' });
  const bobImap = () => ({ host: host.address, user: 'bob@example.com', password: TEST_PASSWORD, ca, servername: 'mail.example.com' });
  /** Queue ids and recipients of the messages in Postfix's queue. */
  const queue = async () => (await host.exec("postqueue -j | sed -n 's/.*\"queue_id\": *\"\\([0-9A-Za-z]*\\)\".*\"address\": *\"\\([^\"]*\\)\".*/\\1 \\2/p' | sort")).stdout;

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws, ca } = await startProvisionedHost({ release, name: `reboot-${release}` }));
    // The load below is alice sending far faster than a person: lift the sending limits that would
    // refuse most of it (the limits are mailbox.test.ts's proof).
    appendFileSync(join(ws.dir, 'mailrig.yaml'), `limits:\n  per_minute: ${10 * LOAD}\n  per_day: ${10 * LOAD}\n`);
    const apply = await ws.mailrig(['apply', '--yes']);
    assert.equal(apply.code, 0, show(apply));
  });
  after(async () => {
    await host?.stop();
  });

  it('after a clean reboot every service is back, mailboxes and queue are intact, and apply is a no-op', async (t) => {
    for (const n of [1, 2, 3]) {
      await submit(submission(), { from: 'alice@example.com', to: 'bob@example.com', subject: `before reboot ${n}`, text: `Message ${n}.` });
    }
    assert.equal((await fetchInbox(bobImap(), 3)).length, 3);
    // A message that stays queued: its destination (this machine, port 25) refuses connections.
    await submit(submission(), { from: 'alice@example.com', to: `someone@[${host.gateway}]`, subject: 'queued', text: 'Waits in the queue.' });
    let queued = '';
    // Until Postfix has queued it: no deadline of its own, the test's timeout bounds the wait.
    for (;;) {
      queued = await queue();
      if (queued) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(queued, new RegExp(`^[0-9A-Za-z]+ someone@\\[${host.gateway.replace(/\./g, '\\.')}\\]\\n$`));

    const t0 = Date.now();
    await host.poweroff();
    await host.boot();
    t.diagnostic(`reboot: ${Date.now() - t0} ms`);

    const state = await host.exec(`systemctl is-system-running; systemctl --failed --plain --no-legend; systemctl is-active ${DAEMON_UNITS.join(' ')}`);
    assert.equal(state.stdout, `running\n${DAEMON_UNITS.map(() => 'active\n').join('')}`, state.stdout);
    // The host still asks its own resolver first (unbound, among the units above), and so does Postfix in its chroot.
    const first = await host.exec("for f in /etc/resolv.conf /var/spool/postfix/etc/resolv.conf; do awk '$1 == \"nameserver\" { print $2; exit }' $f; done");
    assert.equal(first.stdout, '127.0.0.1\n127.0.0.1\n', first.stdout + first.stderr);
    // check, from outside, finds the host resolving through unbound and resolv.conf naming it alone.
    const check = checkResults((await ws.mailrig(['check', '--json'], { hostFlags: true })).out);
    for (const id of ['host.resolver', 'host.resolv-conf']) assert.equal(resultById(check, id).status, 'ok', `${id}: ${resultById(check, id).message}`);
    const subjects = (await fetchInbox(bobImap(), 3)).map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1]).sort();
    assert.deepEqual(subjects, ['before reboot 1', 'before reboot 2', 'before reboot 3']);
    assert.equal(await queue(), queued, 'the queued message is still queued, under the same id');
    const apply = await ws.mailrig(['apply', '--yes']);
    assert.equal(apply.code, 0, show(apply));
    assert.match(apply.out, /no changes/);
    assert.equal(apply.out.trim().split('\n').length, 1, `one line: ${apply.out}`);
    // The queued message goes for good: it would bounce into alice's mailbox later in this file.
    await host.exec('postsuper -d ALL >/dev/null 2>&1');
  });

  it(`a power loss while ${LOAD} messages arrive loses none acknowledged with 250; a delivery in flight repeats at most once`, async (t) => {
    // An empty queue to start from, whatever the case above left (its end below waits for an empty queue).
    await host.exec('postsuper -d ALL >/dev/null 2>&1');
    const transport = nodemailer.createTransport({
      pool: true,
      maxConnections: 4,
      maxMessages: Infinity,
      host: host.address,
      port: 587,
      requireTLS: true,
      auth: { user: 'alice@example.com', pass: ALICE_PASSWORD },
      tls: { ca, servername: 'mail.example.com' },
    });
    const acknowledged = new Set<number>();
    let killed = false;
    const killAt = Math.floor(LOAD / 3);
    let kill: Promise<void> | undefined;
    const sends = Array.from({ length: LOAD }, (_, i) =>
      transport
        .sendMail({ from: 'alice@example.com', to: 'bob@example.com', subject: `load ${i}`, text: `Load message ${i}.` })
        .then((info) => {
          // nodemailer resolves only on a 250 after DATA; a rejection here never counts.
          if (info.rejected.length === 0) acknowledged.add(i);
          if (acknowledged.size >= killAt && !killed) {
            killed = true;
            kill = host.killHard();
          }
        }, () => undefined),
    );
    await Promise.all(sends);
    transport.close();
    await kill;
    assert.ok(killed, `the host was killed (after ${acknowledged.size} acknowledgements)`);
    t.diagnostic(`${acknowledged.size} of ${LOAD} acknowledged before the power loss`);

    await host.boot();
    // Whatever was in flight in the queue is tried again now, not after the retry back-off.
    await host.exec('postqueue -f');
    const counts = async () => {
      const r = await host.exec('grep -h -o -m1 "^Subject: load [0-9]*" -r /var/vmail/example.com/bob/Maildir/new /var/vmail/example.com/bob/Maildir/cur 2>/dev/null | sort | uniq -c');
      const m = new Map<number, number>();
      for (const line of r.stdout.trim().split('\n')) {
        const x = /^\s*(\d+) Subject: load (\d+)$/.exec(line);
        if (x) m.set(Number(x[2]), Number(x[1]));
      }
      return m;
    };
    // Every message the host kept is in one of Postfix's queues until its delivery is done: an empty
    // queue (maildrop, incoming, active, deferred, hold) means no delivery is still to come. No
    // deadline of its own: the test's timeout bounds the wait.
    while ((await host.exec('postqueue -j | wc -l')).stdout.trim() !== '0') await new Promise((r) => setTimeout(r, 500));
    const seen = await counts();
    const lost = [...acknowledged].filter((n) => !seen.has(n));
    assert.deepEqual(lost, [], `acknowledged with 250 but not in the mailbox: ${lost.join(' ')}`);
    // Delivery across a crash is at least once (RFC 5321 6.1): a message LMTP had stored whose queue
    // file Postfix had not yet removed is delivered again after the boot. One power loss can repeat a
    // delivery in flight once, never more.
    const twice = [...seen].filter(([, c]) => c === 2).map(([n]) => n);
    if (twice.length) t.diagnostic(`delivered again after the boot (in flight at the power loss): ${twice.join(' ')}`);
    const more = [...seen].filter(([, c]) => c > 2).map(([n]) => n);
    assert.deepEqual(more, [], `delivered more than twice: ${more.join(' ')}`);
    t.diagnostic(`${seen.size} delivered (${seen.size - acknowledged.size} accepted without the 250 reaching the client)`);
    assert.equal((await host.exec('systemctl is-system-running')).stdout.trim(), 'running');
  });
});
