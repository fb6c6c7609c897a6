// Three hosts of one mail system, on mixed releases: the primary (Debian 12, from the provisioned
// image), a backup MX (Debian 13, a plain test host that only mailrig sets up) and the standby replica
// (Debian 12, the primary's release, from the same image). One mailrig.yaml, one key store. A knotd on this machine serves example.com as `mailrig dns` gives it (MX 10 the
// primary, MX 20 the backup) to both hosts' resolvers, and the test's sender resolves MX there and
// tries the MX hosts in order, as a sending server does.
// - one apply provisions all three; the second apply changes nothing on any (its time printed, for
//   one host and for all; never asserted);
// - replication: 200 messages delivered to the primary appear on the standby within the timer's
//   period (the delay printed), a flag set and a message moved to another folder too;
// - the primary's Postfix stopped: mail for alice lands in the backup MX's queue, and an unknown
//   recipient is refused there at RCPT; the primary back and the backup's queue flushed
//   (postqueue -f), the message is in alice's mailbox once, judged by the primary's rspamd by the
//   sender's address (its Authentication-Results header: SPF passes for the address the sender
//   used, which the sender's SPF record alone allows), and postscreen let the backup's own address
//   through on its allow list (test hosts see each other's addresses: no NAT between them);
// - the backup powered off during an apply: the primary is applied, the run exits 1 naming the
//   backup; booted again, a re-run converges and the next one changes nothing;
// - failover to the standby while the primary is dead (its power cut): the run names the primary it
//   could not reach and still succeeds, pushes the records to the test's DNS (RFC 2136, TSIG: the MX
//   now names the standby), alice logs in there over IMAP and sees all her mail, and new mail sent
//   by MX lookup arrives there; the old primary back and applied, it is the standby and receives
//   that mail by replication; failback (a last sync first, DNS pushed back): the same messages on
//   both hosts, each once, nothing lost.
// Every wait is for an event (a port, a queue entry, a message in a mailbox), never a fixed time.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { show, type CliResult, type Workspace } from '../support/e2e.js';
import { newTsigSecret, startKnot, type KnotServer } from '../support/knot.js';
import { PROVISIONED, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, startTestHost, type TestHost } from '../support/testhost.js';

const BACKUP = { name: 'mx2', hostname: 'mx2.example.com' };
const STANDBY = { name: 'standby', hostname: 'mail2.example.com' };
/** The replication runs every minute: a change is on the standby within that and one run's time. */
const REPLICATION_WAIT_MS = 150_000;
const SENDER = 'carol@sender.example.org';
/** The key mailrig signs its DNS updates with; only the knotd the test's sender asks accepts them. */
const TSIG = { name: 'mailrig-update', secret: newTsigSecret() };

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string | (() => Promise<string>)): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function zone(origin: string, records: string[]): { origin: string; text: string } {
  return {
    origin,
    text: [`$ORIGIN ${origin}.`, '$TTL 300', `@ IN SOA ns1.${origin}. hostmaster.${origin}. 1 3600 600 86400 300`, `@ IN NS ns1.${origin}.`, ...records, ''].join('\n'),
  };
}

describe('a primary (Debian 12), a backup MX (Debian 13) and a standby (Debian 12) from one mailrig.yaml', { timeout: 45 * 60_000 }, () => {
  let primary: TestHost;
  let backup: TestHost;
  let standby: TestHost;
  let ws: Workspace;
  const knots: KnotServer[] = [];
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  let knownHosts = '';
  let standbyWs: Workspace | undefined;

  /** mailrig with the primary's key (the backup accepts it too) and both hosts' keys known. */
  const mailrig = (args: string[]): Promise<CliResult> => ws.mailrig([...args, '--identity', primary.keyFile, '--known-hosts', knownHosts], { hostFlags: false });
  const yamlPath = () => join(ws.dir, 'mailrig.yaml');

  /**
   * Delivers one message to `to` as a sending server does: the domain's MX records from the test's
   * DNS, tried in order of preference until one takes the message. Resolves the host that took it.
   */
  const deliver = async (to: string, messageId: string, subject = `to ${to}`): Promise<string> => {
    const resolver = new Resolver();
    resolver.setServers([knots[0]?.address ?? '']);
    const mx = (await resolver.resolveMx(to.slice(to.indexOf('@') + 1))).sort((a, b) => a.priority - b.priority);
    const errors: string[] = [];
    for (const { exchange } of mx) {
      const [address] = await resolver.resolve4(exchange);
      const transport = nodemailer.createTransport({ host: address, port: 25, name: 'client.sender.example.org', tls: { rejectUnauthorized: false }, connectionTimeout: 10_000 });
      try {
        await transport.sendMail({ envelope: { from: SENDER, to }, from: SENDER, to, subject, messageId, text: 'Sent by MX lookup.\n' });
        return exchange;
      } catch (e) {
        errors.push(`${exchange}: ${(e as Error).message}`);
      } finally {
        transport.close();
      }
    }
    assert.fail(`no MX host took the message:\n${errors.join('\n')}`);
  };

  /**
   * alice's messages whose subject has `tag` (all of them for ''), as "<folder> <Message-ID>" (with `flags`: and their
   * flags but \\Seen and \\Recent), sorted.
   */
  const messagesOf = async (h: TestHost, tag: string, flags = false): Promise<string[]> => {
    const query = tag === '' ? 'all' : `header subject '${tag}'`;
    const r = await h.exec(`doveadm -f tab fetch -u ${PROVISIONED.alice} 'mailbox flags hdr.message-id' mailbox '*' ${query}`);
    if (r.code !== 0) return [];
    return r.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => {
        const [mailbox = '', flagList = '', id = ''] = line.split('\t');
        const kept = flagList.split(' ').filter((f) => f && f !== '\\Seen' && f !== '\\Recent');
        return [mailbox, id.trim(), ...(flags ? kept : [])].join(' ').trim();
      })
      .sort();
  };

  before(async () => {
    await cleanupStaleTestHosts();
    const [p, b, s] = await Promise.all([
      startProvisionedHost({ release: 'bookworm', name: 'mh-primary' }),
      startTestHost({ release: 'trixie', name: 'mh-backup' }),
      startProvisionedHost({ release: 'bookworm', name: 'mh-standby' }),
    ]);
    ({ host: primary, ws } = p);
    backup = b;
    standby = s.host;
    standbyWs = s.ws;
    process.stderr.write(`# primary and standby from the image and a fresh backup host in ${elapsed()}\n`);
    // One key logs in to every host; one known_hosts file knows them all.
    const key = readFileSync(`${primary.keyFile}.pub`, 'utf8');
    for (const h of [backup, standby]) {
      const allowed = await h.exec('cat >> /root/.ssh/authorized_keys', { stdin: key });
      assert.equal(allowed.code, 0, allowed.stderr);
    }
    knownHosts = join(ws.dir, 'known_hosts');
    writeFileSync(knownHosts, [primary, backup, standby].map((h) => readFileSync(h.knownHostsFile, 'utf8')).join(''));

    // The backup MX beside the primary; both resolve through the test's knotd (one per link); no
    // greylisting: every sender here is a first-time sender, which greylisting would defer for minutes.
    const yaml = readFileSync(yamlPath(), 'utf8')
      .replace(/^resolver:\n(?: .*\n)*/m, '')
      .replace('  greylisting: true\n', '  greylisting: false\n');
    assert.match(yaml, /greylisting: false/);
    writeFileSync(
      yamlPath(),
      `${yaml.trimEnd()}\n` +
        `servers:\n  - name: ${BACKUP.name}\n    role: backup-mx\n    hostname: ${BACKUP.hostname}\n    ipv4: ${backup.address}\n` +
        `    ssh: root@${backup.address}\n    release: debian-13\n    allow_private_addresses: true\n    queue_lifetime: 3d\n` +
        `  - name: ${STANDBY.name}\n    role: standby\n    hostname: ${STANDBY.hostname}\n    ipv4: ${standby.address}\n` +
        `    ssh: root@${standby.address}\n    release: debian-12\n    allow_private_addresses: true\n` +
        `resolver:\n  forwarders: [${primary.gateway}, ${backup.gateway}]\n  root_trust_anchor: false\n`,
    );
    const records = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
    assert.equal(records.code, 0, show(records));
    // Relative names, as the zone file gives them: @ is example.com.
    assert.match(records.out, /^@\s+\d+ IN MX\s+10 mail\.example\.com\.$/m, records.out);
    assert.match(records.out, /^@\s+\d+ IN MX\s+20 mx2\.example\.com\.$/m, records.out);
    assert.match(records.out, new RegExp(`^mx2\\s+\\d+ IN A\\s+${backup.address.replace(/\./g, '\\.')}$`, 'm'), records.out);
    assert.match(records.out, /^_25\._tcp\.mx2\s+\d+ IN TLSA\s+3 1 1 [0-9a-f]{64}$/m, records.out);
    // The standby: its name and key in DNS, no MX while it is the standby, in SPF.
    assert.match(records.out, new RegExp(`^mail2\\s+\\d+ IN A\\s+${standby.address.replace(/\./g, '\\.')}$`, 'm'), records.out);
    assert.doesNotMatch(records.out, /IN MX\s+\d+ mail2\.example\.com\.$/m, records.out);
    assert.match(records.out, /"v=spf1 mx a:mail2\.example\.com -all"/, records.out);
    // The sender's SPF allows only the address it sends from as the backup MX sees it (this
    // machine's on the backup's link): not the backup MX, which passes the mail on to the primary.
    const zones = [{ origin: 'example.com', text: records.out }, zone('sender.example.org', [`@ IN TXT "v=spf1 ip4:${backup.gateway} -all"`])];
    for (const t of [primary, backup, standby]) knots.push(await startKnot({ zones, listenAddress: t.gateway, port: 53, ...(t === primary ? { updateKey: TSIG } : {}) }));
    // failover and failback push the records there (dns push, RFC 2136 signed with the key).
    writeFileSync(join(ws.dir, 'tsig.key'), `key "${TSIG.name}" {\n\talgorithm hmac-sha256;\n\tsecret "${TSIG.secret}";\n};\n`);
    writeFileSync(yamlPath(), readFileSync(yamlPath(), 'utf8').replace(/^dns:\n(?: .*\n)*/m, `dns:\n  provider: rfc2136\n  ttl: 300\n  server: ${knots[0]?.address}\n  key_name: ${TSIG.name}\n  key_file: tsig.key\n`));
    assert.match(readFileSync(yamlPath(), 'utf8'), /provider: rfc2136/);
  });
  after(async () => {
    for (const k of knots) await k.stop();
    await Promise.all([primary?.stop(), backup?.stop(), standby?.stop()]);
    if (standbyWs) rmSync(standbyWs.dir, { recursive: true, force: true });
  });

  it('one apply provisions all three hosts; the backup MX runs Postfix on 25 for the primary, no Dovecot', async () => {
    const plan = await mailrig(['plan']);
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, /^== primary \(primary, mail\.example\.com\) ==$/m);
    assert.match(plan.out, /^== mx2 \(backup-mx, mx2\.example\.com\) ==$/m);
    assert.match(plan.out, /^== standby \(standby, mail2\.example\.com\) ==$/m);
    const t0 = Date.now();
    const applied = await mailrig(['apply', '--yes']);
    assert.equal(applied.code, 0, show(applied));
    for (const h of [backup, standby]) assert.match(applied.out, new RegExp(`root@${h.address.replace(/\./g, '\\.')}: applied`), show(applied));
    process.stderr.write(`# three hosts applied in ${((Date.now() - t0) / 1000).toFixed(1)} s (${elapsed()} in all)\n`);
    const conf = await backup.exec('postconf -h relay_domains relay_recipient_maps transport_maps maximal_queue_lifetime mydestination; postmap -q example.com lmdb:/etc/postfix/transport');
    assert.deepEqual(conf.stdout.trim().split('\n'), [
      'lmdb:/etc/postfix/relay_domains',
      'lmdb:/etc/postfix/relay_recipients',
      'lmdb:/etc/postfix/transport',
      '3d',
      '$myhostname, localhost',
      'smtp:[mail.example.com]:25',
    ]);
    const none = await backup.exec('dpkg-query -W -f "${Status}" dovecot-core 2>/dev/null | grep -q "install ok installed" && echo dovecot; ss -Hltn "( sport = :25 or sport = :587 or sport = :993 )" | awk "{print \\$4}" | sort');
    assert.deepEqual(none.stdout.trim().split('\n'), ['0.0.0.0:25'], none.stdout);
    const release = await backup.exec('. /etc/os-release; echo $VERSION_CODENAME');
    assert.equal(release.stdout.trim(), 'trixie');
  });

  it('the standby serves the mailboxes under its own name and takes only dsync from the primary; the primary replicates every minute', async () => {
    const listening = await standby.exec('for p in 25 587 993; do ss -Hltn "( sport = :$p )" | grep -q . && echo $p; done; postconf -h myhostname');
    assert.deepEqual(listening.stdout.trim().split('\n'), ['25', '587', '993', STANDBY.hostname], listening.stdout + listening.stderr);
    const allowed = await standby.exec('grep -v "^#" /root/.ssh/authorized_keys2');
    assert.match(allowed.stdout, /^restrict,command="\/usr\/local\/sbin\/mailrig-dsync-server" ssh-ed25519 \S+ mailrig-replication$/m);
    const timer = await primary.exec('systemctl is-active mailrig-replicate.timer; stat -c %a /etc/mailrig/replication/id_ed25519; grep -c "^mailrig-standby ssh-" /etc/mailrig/replication/known_hosts');
    assert.deepEqual(timer.stdout.trim().split('\n'), ['active', '600', '1'], timer.stdout + timer.stderr);
    // The key runs nothing but dsync for a mailbox: a shell is refused by the standby's wrapper.
    const ssh = `ssh -i /etc/mailrig/replication/id_ed25519 -o BatchMode=yes -o UserKnownHostsFile=/etc/mailrig/replication/known_hosts -o HostKeyAlias=mailrig-standby -l root ${standby.address}`;
    const shell = await primary.exec(`${ssh} id`);
    assert.equal(shell.code, 1, shell.stdout + shell.stderr);
    assert.match(shell.stderr, /mailrig-dsync-server: refused: not a dsync-server command/);
    assert.doesNotMatch(shell.stdout, /uid=/);
  });

  it('the second apply changes nothing on any host (no-op times printed, not asserted)', async () => {
    let t0 = Date.now();
    const both = await mailrig(['apply', '--yes']);
    const bothSeconds = (Date.now() - t0) / 1000;
    assert.equal(both.code, 0, show(both));
    for (const h of [primary, backup, standby]) assert.match(both.out, new RegExp(`root@${h.address.replace(/\./g, '\\.')}: no changes`), show(both));
    t0 = Date.now();
    const one = await mailrig(['apply', '--yes', '--host', 'primary']);
    const oneSeconds = (Date.now() - t0) / 1000;
    assert.equal(one.code, 0, show(one));
    assert.match(one.out, /: no changes/);
    process.stderr.write(`# no-op apply: 1 host ${oneSeconds.toFixed(1)} s, 3 hosts in parallel ${bothSeconds.toFixed(1)} s\n`);
  });

  it('replication: 200 messages, a flag and a folder move on the primary appear on the standby within the timer period', async () => {
    const tag = `repl-${Date.now()}`;
    const ids = Array.from({ length: 200 }, (_, i) => `<${tag}-${i}@sender.example.org>`);
    const transport = nodemailer.createTransport({ host: primary.address, port: 25, name: 'client.sender.example.org', tls: { rejectUnauthorized: false }, pool: true, maxConnections: 4, maxMessages: 100 });
    const t0 = Date.now();
    try {
      await Promise.all(
        ids.map((messageId, i) =>
          transport.sendMail({ envelope: { from: SENDER, to: PROVISIONED.alice }, from: SENDER, to: PROVISIONED.alice, subject: `${tag} ${i}`, messageId, text: `Message ${i} to replicate.\n` }),
        ),
      );
    } finally {
      transport.close();
    }
    const onPrimary = await until(async () => {
      const m = await messagesOf(primary, tag);
      return m.length === ids.length ? m : undefined;
    }, 120_000, async () => `200 messages in alice's mailbox on the primary (${(await messagesOf(primary, tag)).length})`);
    const delivered = Date.now();
    process.stderr.write(`# 200 messages delivered to the primary in ${((delivered - t0) / 1000).toFixed(1)} s\n`);
    const onStandby = await until(async () => {
      const m = await messagesOf(standby, tag);
      return m.length === ids.length ? m : undefined;
    }, REPLICATION_WAIT_MS, async () => `200 messages on the standby (${(await messagesOf(standby, tag)).length}); the primary's log:\n${(await primary.exec('journalctl -u mailrig-replicate --no-pager -n 20')).stdout}`);
    process.stderr.write(`# the 200 messages on the standby ${((Date.now() - delivered) / 1000).toFixed(1)} s after the last was delivered\n`);
    assert.deepEqual(onStandby, onPrimary, 'the same messages, each once');

    // A flag set and a message moved to another folder on the primary.
    const flagged = ids[7] ?? '';
    const moved = ids[8] ?? '';
    for (const cmd of [
      `doveadm flags add -u ${PROVISIONED.alice} '\\Flagged' mailbox '*' header message-id '${flagged}'`,
      `doveadm mailbox create -u ${PROVISIONED.alice} Archive`,
      `doveadm move -u ${PROVISIONED.alice} Archive mailbox '*' header message-id '${moved}'`,
    ]) {
      const r = await primary.exec(cmd);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    }
    const changed = Date.now();
    // Wherever rspamd's verdict filed them (INBOX or Junk): the one flagged, the other in Archive only.
    const fields = (list: string[], id: string) => list.map((l) => l.split(' ')).filter((f) => f[1] === id);
    const done = (list: string[]) => {
      const f = fields(list, flagged);
      const m = fields(list, moved);
      return f.length === 1 && f[0]?.includes('\\Flagged') === true && m.length === 1 && m[0]?.[0] === 'Archive';
    };
    assert.ok(done(await messagesOf(primary, tag, true)), 'flagged and moved on the primary');
    await until(async () => (done(await messagesOf(standby, tag, true)) ? true : undefined), REPLICATION_WAIT_MS, async () => `the flag and the move on the standby:\n${(await messagesOf(standby, tag, true)).filter((l) => l.includes(flagged) || l.includes(moved)).join('\n')}`);
    process.stderr.write(`# the flag and the move on the standby ${((Date.now() - changed) / 1000).toFixed(1)} s after they were made\n`);
    assert.equal((await messagesOf(standby, tag)).length, ids.length);
    const log = await primary.exec('journalctl -u mailrig-replicate --no-pager -o cat | grep "^mailrig-replicate: " | tail -n 1');
    assert.match(log.stdout, /^mailrig-replicate: 2 synced to standby in \d+s$/m, log.stdout);
  });

  it('the primary down: mail waits on the backup MX, which refuses unknown recipients; the primary back: delivered once', async () => {
    const stopped = await primary.exec('systemctl stop postfix');
    assert.equal(stopped.code, 0, stopped.stderr);
    const messageId = `<held-${Date.now()}@sender.example.org>`;
    const tookIt = await deliver(PROVISIONED.alice, messageId);
    assert.equal(tookIt, BACKUP.hostname, 'the MX of preference 20 took it');
    const queued = await until(
      async () => {
        const q = await backup.exec('postqueue -j');
        return q.stdout.includes(PROVISIONED.alice) ? q.stdout : undefined;
      },
      30_000,
      'the message in the backup MX queue',
    );
    assert.equal(queued.trim().split('\n').length, 1, queued);

    // An address that does not exist is refused during SMTP, before any data: no backscatter.
    const transport = nodemailer.createTransport({ host: backup.address, port: 25, name: 'client.sender.example.org', tls: { rejectUnauthorized: false } });
    try {
      await assert.rejects(
        transport.sendMail({ envelope: { from: SENDER, to: 'nobody@example.com' }, from: SENDER, to: 'nobody@example.com', subject: 'unknown', text: 'x\n' }),
        (e: Error & { responseCode?: number; command?: string; response?: string }) => e.responseCode === 550 && /RCPT/i.test(e.command ?? '') && /Recipient address rejected/.test(e.response ?? ''),
      );
    } finally {
      transport.close();
    }

    const restarted = await primary.exec('systemctl start postfix');
    assert.equal(restarted.code, 0, restarted.stderr);
    await until(async () => ((await primary.exec('ss -Hltn "( sport = :25 )"')).stdout.trim() ? true : undefined), 60_000, 'the primary listening on 25');
    const flushed = await backup.exec('postqueue -f');
    assert.equal(flushed.code, 0, flushed.stderr);
    await until(
      async () => ((await backup.exec('postqueue -j')).stdout.trim() === '' ? true : undefined),
      60_000,
      async () => `the backup MX queue to empty:\n${(await backup.exec('postqueue -p; tail -n 20 /var/log/postfix.log')).stdout}`,
    );
    const found = await until(
      async () => {
        const r = await primary.exec(`doveadm search -u ${PROVISIONED.alice} header message-id ${JSON.stringify(messageId)}`);
        return r.stdout.trim() ? r.stdout.trim() : undefined;
      },
      60_000,
      async () => `${messageId} in alice's mailbox:\n${(await primary.exec('tail -n 20 /var/log/postfix.log')).stdout}`,
    );
    assert.equal(found.split('\n').length, 1, `exactly once: ${found}`);
    const sent = await backup.exec(`grep -c 'to=<${PROVISIONED.alice}>, relay=mail.example.com.*status=sent' /var/log/postfix.log`);
    assert.equal(sent.stdout.trim(), '1');

    // The primary judged the sender, not the backup MX: its own Authentication-Results header says
    // SPF passed for the address the sender used towards the backup (the backup's address would fail).
    const header = await primary.exec(`doveadm fetch -u ${PROVISIONED.alice} hdr header message-id ${JSON.stringify(messageId)}`);
    const results = header.stdout
      .replace(/\r?\n[ \t]+/g, ' ')
      .replace(/[ \t]+/g, ' ')
      .split('\n')
      .filter((l) => /^Authentication-Results: mail\.example\.com;/i.test(l));
    assert.equal(results.length, 1, `the primary's Authentication-Results:\n${header.stdout}`);
    const spf = new RegExp(`spf=pass \\(mail\\.example\\.com: domain of ${SENDER.replace(/\./g, '\\.')} designates ${backup.gateway.replace(/\./g, '\\.')} as permitted sender\\) smtp\\.mailfrom=`);
    assert.match(results[0] ?? '', spf, header.stdout);
    // postscreen let the backup MX through at once: its own address, on the allow list, no tests.
    const screened = await primary.exec(`grep -E 'postscreen\\[[0-9]+\\]: .*\\[${backup.address.replace(/\./g, '\\.')}\\]:' /var/log/postfix.log`);
    assert.match(screened.stdout, new RegExp(`(ALLOW|WHITE)LISTED \\[${backup.address.replace(/\./g, '\\.')}\\]:`), `postscreen on the primary:\n${screened.stdout}`);
    assert.doesNotMatch(screened.stdout, /PASS NEW|PREGREET|DNSBL|HANGUP|COMMAND/, screened.stdout);
  });

  it('a host unreachable at apply: the primary is applied, exit 1 naming the backup; back, a re-run converges', async () => {
    const yaml = readFileSync(yamlPath(), 'utf8');
    assert.match(yaml, /^ {2}message_size_limit: 50M$/m);
    writeFileSync(yamlPath(), yaml.replace(/^ {2}message_size_limit: 50M$/m, '  message_size_limit: 40M'));
    await backup.poweroff();
    const partial = await mailrig(['apply', '--yes']);
    assert.equal(partial.code, 1, show(partial));
    assert.match(partial.err, /1 of 3 hosts failed: mx2/, show(partial));
    const limit = await primary.exec('postconf -h message_size_limit');
    assert.equal(limit.stdout.trim(), String(40 * 1024 * 1024), 'the primary is applied in full');
    await backup.boot();
    const rerun = await mailrig(['apply', '--yes']);
    assert.equal(rerun.code, 0, show(rerun));
    for (const h of [primary, standby]) assert.match(rerun.out, new RegExp(`root@${h.address.replace(/\./g, '\\.')}: no changes`), show(rerun));
    const backupLimit = await backup.exec('postconf -h message_size_limit');
    assert.equal(backupLimit.stdout.trim(), String(40 * 1024 * 1024));
    const again = await mailrig(['apply', '--yes']);
    assert.equal(again.code, 0, show(again));
    assert.equal((again.out.match(/: no changes/g) ?? []).length, 3, show(again));
  });

  it('failover to the standby while the primary is dead: DNS pushed, users see all their mail there, new mail arrives there; the old primary back is the standby; failback: nothing lost or duplicated', async () => {
    // What the primary holds is on the standby before the switch (the timer's next run at the latest).
    const same = async (): Promise<string[] | undefined> => {
      const [p, s] = await Promise.all([messagesOf(primary, ''), messagesOf(standby, '')]);
      return p.length > 0 && JSON.stringify(p) === JSON.stringify(s) ? p : undefined;
    };
    const before = await until(same, REPLICATION_WAIT_MS, 'the same mail on the primary and the standby');
    const mx = async () => (await knots[0]?.dig('example.com', 'MX'))?.sort();
    assert.deepEqual(await mx(), ['10 mail.example.com.', '20 mx2.example.com.']);
    // The primary dies: its power is cut, as a VPS that stops answering.
    await primary.killHard();
    let t0 = Date.now();
    const over = await mailrig(['failover', '--to', STANDBY.name, '--yes']);
    assert.equal(over.code, 0, show(over));
    assert.match(over.out, /standby is the primary now, primary the standby/);
    assert.match(over.err, /primary \(root@[\d.]+\) was not applied: .*apply again once it answers/, show(over));
    process.stderr.write(`# failover, the primary dead (mailrig.yaml, two hosts applied, DNS pushed) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    assert.deepEqual(await mx(), ['10 mail2.example.com.', '20 mx2.example.com.'], 'the MX names the new primary');

    // alice logs in on the new primary and sees every message, in its folder.
    const client = new ImapFlow({ host: standby.address, port: 993, secure: true, auth: { user: PROVISIONED.alice, pass: PROVISIONED.alicePassword }, tls: { rejectUnauthorized: false }, logger: false });
    await client.connect();
    try {
      const folders = [...new Set(before.map((l) => l.split(' ')[0] ?? ''))];
      let seen = 0;
      for (const folder of folders) {
        const status = await client.status(folder, { messages: true });
        seen += status ? (status.messages ?? 0) : 0;
      }
      assert.equal(seen, before.length, `IMAP on the new primary shows all ${before.length} messages (${folders.join(', ')})`);
    } finally {
      await client.logout();
    }

    // New mail, sent as a sending server sends it (MX lookup), goes to the new primary.
    const tag = `failover-${Date.now()}`;
    for (let i = 0; i < 5; i++) assert.equal(await deliver(PROVISIONED.alice, `<${tag}-${i}@sender.example.org>`, `${tag} ${i}`), STANDBY.hostname);
    await until(async () => ((await messagesOf(standby, tag)).length === 5 ? true : undefined), 60_000, 'the 5 new messages on the new primary');

    // The old primary comes back as it was; an apply makes it the standby, and it gets the new mail.
    await primary.boot();
    const rejoin = await mailrig(['apply', '--yes']);
    assert.equal(rejoin.code, 0, show(rejoin));
    const plan = await mailrig(['plan']);
    assert.match(plan.out, /^== standby \(primary, mail2\.example\.com\) ==$/m, show(plan));
    assert.match(plan.out, /^== primary \(standby, mail\.example\.com\) ==$/m, show(plan));
    const roles = await Promise.all([standby.exec('systemctl is-active mailrig-replicate.timer'), primary.exec('systemctl is-active mailrig-replicate.timer; test -e /root/.ssh/authorized_keys2 && echo allowed')]);
    assert.equal(roles[0].stdout.trim(), 'active', 'the new primary replicates');
    assert.deepEqual(roles[1].stdout.trim().split('\n'), ['inactive', 'allowed'], 'the old primary takes the sync');
    await until(async () => ((await messagesOf(primary, tag)).length === 5 ? true : undefined), REPLICATION_WAIT_MS, 'the 5 new messages on the old primary (the standby now)');

    t0 = Date.now();
    const back = await mailrig(['failback', '--yes']);
    assert.equal(back.code, 0, show(back));
    assert.match(back.out, /^mailrig-replicate: 2 synced to primary in \d+s$/m, show(back));
    assert.match(back.out, /primary is the primary now, standby the standby/);
    process.stderr.write(`# failback (last sync, mailrig.yaml, three hosts applied, DNS pushed) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    assert.deepEqual(await mx(), ['10 mail.example.com.', '20 mx2.example.com.'], 'the MX names the primary again');
    const after = await until(same, REPLICATION_WAIT_MS, 'the same mail on both hosts after the failback');
    const ids = after.map((l) => l.split(' ')[1] ?? '');
    assert.equal(new Set(ids).size, ids.length, 'no message twice');
    assert.equal(after.length, before.length + 5, 'nothing lost: what was there, and the 5 new ones');
    for (const line of before) assert.ok(after.includes(line), `${line} is still there`);
    const converged = await mailrig(['apply', '--yes']);
    assert.equal(converged.code, 0, show(converged));
    assert.equal((converged.out.match(/: no changes/g) ?? []).length, 3, show(converged));
    process.stderr.write(`# multihost.test.ts in ${elapsed()}\n`);
  });
});
