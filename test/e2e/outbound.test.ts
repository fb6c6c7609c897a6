// Mail leaving the host, proven on Debian 12 and 13 with two hosts from the provisioned image: the
// mailrig host (example.com, an alias to an outside address) and a second host that mailrig
// reconfigured for two other domains (remote.example.net with dave, sender.example.org with
// carol). A knotd on this machine serves both hosts the zones, through each host's own validating
// resolver (mailrig's `resolver:` section: the knotd as forwarder, remote.example.net's key as trust
// anchor). No name is under .test: a validating resolver answers that special-use name itself.
//   example.com          mailrig's own records: MX and SPF name the mailrig host, its DKIM keys
//   sender.example.org   unsigned; MX → the second host; SPF allows only this machine's address on
//                        the mailrig host's link, where carol's mail is injected from
//   remote.example.net   signed (DNSSEC) with mailrig's records for the second host: MX, and the
//                        TLSA record of its SMTP key (DANE)
// Forwarding cases:
// - carol@sender.example.org → fwd@example.com → dave@remote.example.net: at dave's mailbox the
//   envelope sender is an SRS0 address at example.com, and the second host's rspamd found SPF passing (R_SPF_ALLOW) and
//   the mailrig host's ARC seal valid (ARC_ALLOW, d=example.com);
// - without SRS the same sender fails SPF there: one SMTP session from the mailrig host's address with
//   MAIL FROM carol@sender.example.org gets R_SPF_FAIL;
// - a forward the second host refuses (alias → nobody@remote.example.net): the mailrig host's bounce goes
//   to the SRS address, which it reverses, and reaches carol's mailbox on the second host;
// - carol → a local mailbox keeps carol as the envelope sender;
// - with postsrsd stopped, mail to the alias gets a temporary error, not an unrewritten forward.
// Blocklists: bl.example.net lists the address carol's mail comes from, err.example.net answers it with an error
// code (127.255.255.254): rspamd inserts the listing of the first and only the error of the second.
// DANE cases, mail sent by bob (a logged-in user of the mailrig host) to dave@remote.example.net:
// - the TLSA record matches: delivered over a connection the mailrig host logs as Verified;
// - the TLSA record does not match the served key: deferred, never delivered; fixed → delivered;
// - the second host stops offering STARTTLS: deferred, not sent in plaintext;
// - the TLSA records' signature is bogus: deferred, not taken for "no TLSA";
// - a domain without DNSSEC (sender.example.org, MX on the same host): opportunistic TLS, as before DANE.
// MTA-STS cases (RFC 8461), the second host serving the policy at https://mta-sts.<domain>/ (its
// nginx, mailrig's inbound MTA-STS; the test rewrites the file), mail sent by bob:
// - sender.example.org (unsigned), an enforce policy whose mx does not match its MX: deferred;
// - an enforce policy naming an MX (mx.sender.example.org) whose certificate lacks that name: deferred;
// - an enforce policy that matches: delivered over a Verified session;
// - on demand: the front, systemd's proxy and mta-sts-daemon exit once idle (a short idle time set
//   by a drop-in), and the next mail to an enforce domain starts them again and is still Verified;
// - a testing policy that does not match: delivered (Trusted, not Verified); neither mta-sts-daemon
//   nor Postfix logs the mismatch (the daemon answers "no policy" for testing mode);
// - remote.example.net, with TLSA records and an enforce policy that does not match: delivered,
//   Verified: DANE wins (mta-sts-daemon itself answers "secure", the front "dane");
// - the TLS policy front down (its socket too): deferred, not sent without the policy.
// The mailrig host trusts the second host's self-signed certificate (installed with
// update-ca-certificates), as it would trust a public CA's: mta-sts-daemon fetches the policy over
// HTTPS with Python's default trust store, smtp(8) checks the MX's chain with the same bundle.
// Then check counts the verified and the unverified sessions of all this; with unbound stopped the
// host resolves nothing (no fallback), mail waits in the queue, and check reports the resolver down.
// Each change to remote.example.net is served signed by knotd (a new serial, waited for), and the
// mailrig host's resolver and Postfix are restarted, so that they forget what they cached. Every wait is for an event: a
// message in a mailbox, a line in a log, a port that listens.
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import nodemailer from 'nodemailer';
import { MTA_STS_CACHE, MTA_STS_ON_DEMAND_UNIT, MTA_STS_UNIT, STS_FRONT_UNIT, STS_PORTS } from '../../src/render/mta-sts.js';
import { SRS_PORTS } from '../../src/render/postsrsd.js';
import { TLS_CERT } from '../../src/render/tls.js';
import { MTA_STS_ROOT } from '../../src/render/web.js';
import { checkResults, resultById, show, submit, type Workspace } from '../support/e2e.js';
import { TEST_HASH } from '../support/fixtures.js';
import { breakSignature, newZoneKey, signZone, type ZoneKey } from '../support/dnssec.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const DAVE = 'dave@remote.example.net';
const CAROL = 'carol@sender.example.org';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `get` every 250 ms until it returns a value; fails with `what` after `timeoutMs`. */
async function until<T>(get: () => Promise<T | undefined>, timeoutMs: number, what: string | (() => Promise<string>)): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms: ${typeof what === "string" ? what : await what()}`);
    await sleep(250);
  }
}

/**
 * The `resolver:` section of both hosts: the test's knotd (on this machine's end of the host's link)
 * answers every query, and remote.example.net's key is the only trust anchor (there is no root zone here).
 */
function resolverYaml(gateway: string, anchor: string): string {
  return `resolver:\n  forwarders: [${gateway}]\n  root_trust_anchor: false\n  trust_anchors:\n    - "${anchor}"\n`;
}

/** The zone text with its SOA serial set to `serial`. */
function withSerial(text: string, serial: number): string {
  const out = text.replace(/(\bSOA\s+\S+\s+\S+\s+\(?\s*)\d+/, `$1${serial}`);
  assert.notEqual(out, text, 'the zone has a SOA record whose serial changes');
  return out;
}

/**
 * Two DNS blocklists of the mailrig host's spam section, both served by the test's knotd: rbl.test
 * lists this machine's address on the link (where carol's mail comes from), err.example.net answers it
 * with an error code (127.255.255.254), as Spamhaus answers a query it refuses.
 */
const BLOCKLISTS = '  blocklists:\n    - zone: bl.example.net\n      score: 1\n    - zone: err.example.net\n      score: 5\n';
const reversed = (ip: string) => ip.split('.').reverse().join('.');

/** A TLSA digest no key has: what a record left behind after a key change looks like to DANE. */
const STALE_TLSA = 'ab'.repeat(32);

function zone(origin: string, records: string[]): { origin: string; text: string } {
  return {
    origin,
    text: [`$ORIGIN ${origin}.`, '$TTL 300', `@ IN SOA ns1.${origin}. hostmaster.${origin}. 1 3600 600 86400 300`, `@ IN NS ns1.${origin}.`, ...records, ''].join('\n'),
  };
}

/** sender.example.org (unsigned): its MX, its SPF record, and with `sts` its MTA-STS records. */
function senderZone(gateway: string, remoteAddress: string, opts: { mx?: string; stsId?: string } = {}) {
  const mx = opts.mx ?? 'mail.remote.example.net';
  return zone('sender.example.org', [
    `@ IN MX 10 ${mx}.`,
    `@ IN TXT "v=spf1 ip4:${gateway} -all"`,
    ...(mx === 'mx.sender.example.org' ? [`mx IN A ${remoteAddress}`] : []),
    ...(opts.stsId ? [`mta-sts IN A ${remoteAddress}`, `_mta-sts IN TXT "v=STSv1; id=${opts.stsId}"`] : []),
  ]);
}

/** An MTA-STS policy file as RFC 8461 section 3.2 gives it. */
function stsPolicy(mode: 'enforce' | 'testing', mx: string): string {
  return ['version: STSv1', `mode: ${mode}`, `mx: ${mx}`, 'max_age: 86400', ''].join('\r\n');
}

/** A socketmap query (socketmap_table(5)) to a loopback port, run on the host: prints the reply. */
const SOCKETMAP_QUERY = `import socket, sys
query = b'postfix ' + sys.argv[2].encode()
with socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=60) as s:
    s.sendall(b'%d:%s,' % (len(query), query))
    reply = b''
    while not reply.endswith(b','):
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
print(reply.decode())
`;

/** The second host's mailrig.yaml: its own two domains, greylisting off (see below). */
function remoteYaml(address: string, release: 'debian-12' | 'debian-13'): string {
  return `server:
  hostname: mail.remote.example.net
  ipv4: ${address}
  ssh: root@${address}
  release: ${release}
  allow_private_addresses: true
admin_email: postmaster@remote.example.net
domains:
  remote.example.net:
    mailboxes:
      dave:
        password_hash: "${TEST_HASH}"
    aliases:
      postmaster: dave
      abuse: dave
  sender.example.org:
    mailboxes:
      carol:
        password_hash: "${TEST_HASH}"
    aliases:
      postmaster: carol
      abuse: carol
spam:
  greylisting: false
tls:
  acme: self-signed
`;
}

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`forwarding with SRS and ARC between two provisioned ${debian} hosts`, { timeout: 20 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let remote: TestHost;
    let remoteWs: Workspace;
    const knots: KnotServer[] = [];
    /** iptables nat rules (without -I/-D) added for this test, removed in after(). */
    const natRules: string[][] = [];
    const started = Date.now();
    const tag = randomBytes(4).toString('hex');
    /** The envelope sender dave's copy of a forward arrived with (set by the forward case). */
    let srsAddress = '';
    /** remote.example.net's signing key, and its records as the second host's `mailrig dns` gives them. */
    let remoteKey: ZoneKey;
    let remoteRecords = '';
    /** The certificate the mailrig host's ports serve. */
    let hostCa = '';
    let serial = 100;
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

    /** Injects a message over port 25 from this machine (the gateway sender.example.org's SPF allows). */
    const inject = async (to: string, subject: string) => {
      const messageId = `<${subject.replace(/\W+/g, '-')}-${tag}@sender.example.org>`;
      const transport = nodemailer.createTransport({ host: host.address, port: 25, ignoreTLS: true, name: 'client.sender.example.org' });
      try {
        await transport.sendMail({ envelope: { from: CAROL, to }, from: `Carol <${CAROL}>`, to, subject, messageId, text: `${subject}\n` });
      } finally {
        transport.close();
      }
      return messageId;
    };
    /**
     * The full text of the message in `user`'s mailbox (any folder) that names `messageId` — in its
     * Message-ID header, or anywhere (`where: 'text'`, a bounce quoting it) — once it is there.
     */
    const arrived = (target: TestHost, user: string, messageId: string, where: 'message-id' | 'text' = 'message-id') =>
      until(
        async () => {
          const query = where === 'text' ? `text ${JSON.stringify(messageId)}` : `header message-id ${JSON.stringify(messageId)}`;
          const r = await target.exec(`doveadm fetch -u ${user} text ${query}`);
          return r.code === 0 && r.stdout.includes(messageId) ? r.stdout : undefined;
        },
        120_000,
        async () => `${messageId} in ${user}'s mailbox on ${target.name}; its Postfix log:\n${(await target.exec('tail -n 30 /var/log/postfix.log')).stdout}`,
      );
    /** rspamd's log line for the message with `messageId` on `target` (written once it scanned it). */
    const scanned = (target: TestHost, messageId: string) =>
      until(
        async () => {
          const r = await target.exec(`grep -F 'id: ${messageId}' /var/log/rspamd/rspamd.log | grep -F rspamd_task_write_log || true`);
          return r.stdout.trim() || undefined;
        },
        30_000,
        `rspamd's log line for ${messageId} on ${target.name}`,
      );

    /** Restarts `t`'s resolver (an empty cache) and waits until it listens on loopback again. */
    const restartResolver = async (t: TestHost) => {
      const r = await t.exec('service unbound restart </dev/null >/dev/null 2>&1');
      assert.equal(r.code, 0, `unbound restarts on ${t.name}: ${r.stderr}`);
      await until(
        async () => ((await t.exec("ss -Hlun 'sport = :53'")).stdout.includes('127.0.0.1:53') ? true : undefined),
        30_000,
        `unbound listening on ${t.name}`,
      );
    };
    /**
     * Serves remote.example.net anew from both knotds — its records changed by `edit`, signed, then
     * changed by `damage` — and restarts the mailrig host's resolver and Postfix: unbound's cache and
     * each smtp(8) process's own cache of TLSA records would keep the old records for their TTL.
     */
    const serveRemote = async (edit: (records: string) => string = (r) => r, damage: (signed: string) => string = (z) => z) => {
      serial += 1;
      const text = damage(await signZone(remoteKey, withSerial(edit(remoteRecords), serial)));
      for (const k of knots) await k.replaceZone({ origin: 'remote.example.net', text });
      await forget();
    };
    /**
     * The mailrig host forgets what it learnt: unbound's cache, mta-sts-daemon's policies (its cache
     * file, kept across restarts, is removed while it is stopped) and smtp(8)'s TLSA records.
     */
    const forget = async () => {
      await restartResolver(host);
      // systemd holds mta-sts-daemon's port and starts it again at the next question.
      const sts = await host.exec(`systemctl stop ${MTA_STS_ON_DEMAND_UNIT}.service ${MTA_STS_UNIT}.service && rm -f ${MTA_STS_CACHE} ${MTA_STS_CACHE}-wal ${MTA_STS_CACHE}-shm`);
      assert.equal(sts.code, 0, sts.stderr);
      const postfix = await host.exec('service postfix restart </dev/null >/dev/null 2>&1');
      assert.equal(postfix.code, 0, postfix.stderr);
    };
    let stsId = 0;
    /**
     * sender.example.org served anew (MX `mx`, with MTA-STS records and a new policy id when
     * `policy` is given), the second host's policy file rewritten (one file serves every domain's
     * mta-sts. name there), and the mailrig host's caches emptied.
     */
    const serveSender = async (opts: { mx?: string; policy?: string } = {}) => {
      serial += 1;
      stsId += 1;
      const text = withSerial(senderZone(host.gateway, remote.address, { mx: opts.mx, stsId: opts.policy ? `mailrig${serial}${stsId}` : undefined }).text, serial);
      for (const k of knots) await k.replaceZone({ origin: 'sender.example.org', text });
      if (opts.policy) await writePolicy(opts.policy);
      await forget();
    };
    /** The policy the second host serves at https://mta-sts.<each domain>/.well-known/mta-sts.txt. */
    const writePolicy = async (policy: string) => {
      const w = await remote.exec(`cat > ${MTA_STS_ROOT}/.well-known/mta-sts.txt`, { stdin: policy });
      assert.equal(w.code, 0, w.stderr);
    };
    /** What the socketmap table on the host's loopback `port` answers for `domain`. */
    const askMap = async (port: number, domain: string) => {
      const r = await host.exec(`python3 - ${port} ${domain}`, { stdin: SOCKETMAP_QUERY, timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    /** bob sends over submission with his password; resolves to the queue id the host gave it. */
    const sendAsBob = async (to: string, subject: string) => {
      const messageId = `<${subject.replace(/\W+/g, '-')}-${tag}@example.com>`;
      const sent = await submit(
        { host: host.address, port: 587, user: PROVISIONED.bob, password: PROVISIONED.bobPassword, ca: hostCa, servername: PROVISIONED.servername },
        { from: PROVISIONED.bob, to, subject, text: `${subject}\n`, messageId } as Parameters<typeof submit>[1],
      );
      const queueId = /queued as ([0-9A-Za-z]+)/.exec(String(sent.response))?.[1];
      assert.ok(queueId, `a queue id in the reply: ${sent.response}`);
      return { queueId, messageId };
    };
    /** The mailrig host's log line for the first attempt that ended in `status` for queue id `id`. */
    const attempt = (id: string, to: string, status: 'sent' | 'deferred') =>
      until(
        async () => {
          const r = await host.exec(`grep -F ' ${id}: to=<${to}>' /var/log/postfix.log | grep -F 'status=${status}' | head -n 1`);
          return r.stdout.trim() || undefined;
        },
        120_000,
        async () => `${id} ${status} to ${to}; the host's Postfix log:\n${(await host.exec('tail -n 30 /var/log/postfix.log')).stdout}`,
      );
    /** How the smtp(8) process that logged `line` secured its connection: Verified, Untrusted, … */
    const tlsOf = async (line: string) => {
      const pid = /postfix\/smtp\[(\d+)\]/.exec(line)?.[1];
      assert.ok(pid, line);
      const log = (await host.exec(`grep -F 'postfix/smtp[${pid}]: ' /var/log/postfix.log`)).stdout.split('\n');
      const upTo = log.slice(0, log.findIndex((l) => l.includes(line.slice(-60))) + 1);
      return upTo.reverse().map((l) => /: (\w+) TLS connection established to /.exec(l)?.[1]).find((w) => w !== undefined) ?? 'none';
    };
    /** Whether `user`'s mailbox on the second host holds the message (one look, now). */
    const inMailbox = async (user: string, messageId: string) =>
      (await remote.exec(`doveadm search -u ${user} header message-id ${JSON.stringify(messageId)}`)).stdout.trim() !== '';
    const inDavesMailbox = (messageId: string) => inMailbox(DAVE, messageId);

    before(async () => {
      await cleanupStaleTestHosts();
      const [m, r] = await Promise.all([startProvisionedHost({ release, name: `fwd-m-${release}` }), startProvisionedHost({ release, name: `fwd-r-${release}` })]);
      ({ host, ws, ca: hostCa } = m);
      ({ host: remote, ws: remoteWs } = r);
      process.stderr.write(`# ${debian}: two hosts from the image in ${elapsed()}\n`);
      // Each host's traffic leaves through this machine masqueraded as the other link's gateway.
      // Between these two hosts it goes unchanged, as between two servers on the internet: the
      // second host sees the mailrig host's own address, the one its SPF record names. Tagged like
      // the test hosts' own rules, so a stale one goes with its host's namespace.
      for (const [from, to] of [[host, remote], [remote, host]] as const) {
        const rule = ['POSTROUTING', '-s', from.address, '-d', to.address, '-m', 'comment', '--comment', `mailrig-testhost:${host.netns.replace(/^mailrig-/, '')}`, '-j', 'RETURN'];
        await execa('iptables', ['-t', 'nat', '-I', ...rule]);
        natRules.push(rule);
      }

      remoteKey = await newZoneKey('remote.example.net');
      // The mailrig host: two aliases to outside addresses. Greylisting off on both hosts: each sees
      // the other (and this machine) as a first-time sender, which greylisting would defer for minutes.
      const path = join(ws.dir, 'mailrig.yaml');
      const yaml = readFileSync(path, 'utf8');
      assert.match(yaml, /^ {4}aliases:.*\n/m);
      writeFileSync(
        path,
        yaml.replace(/^resolver:\n(?: .*\n)*/m, '').replace(/^ {4}aliases:.*\n/m, `    aliases:\n      fwd: ${DAVE}\n      gone: nobody@remote.example.net\n`).replace('  greylisting: true\n', `  greylisting: false\n${BLOCKLISTS}`) +
          resolverYaml(host.gateway, remoteKey.ds),
      );
      // The second host: its own project for remote.example.net and sender.example.org (keys made by domain add),
      // and its own SRS secret, as another operator's server has (the copied store had the image's).
      writeFileSync(join(remoteWs.dir, 'mailrig.yaml'), remoteYaml(remote.address, debian) + resolverYaml(remote.gateway, remoteKey.ds));
      rmSync(join(remoteWs.dir, '.mailrig/secrets/srs'));
      const keys = await remoteWs.mailrig(['domain', 'add', 'remote.example.net']);
      assert.equal(keys.code, 0, show(keys));
      const [applied, remoteApplied] = await Promise.all([ws.mailrig(['apply', '--yes']), remoteWs.mailrig(['apply', '--yes'])]);
      assert.equal(applied.code, 0, show(applied));
      assert.equal(remoteApplied.code, 0, show(remoteApplied));
      process.stderr.write(`# ${debian}: both hosts configured in ${elapsed()}\n`);
      // The second host's self-signed certificate (the names of its mail host and of each domain's
      // mta-sts. host) becomes a CA the mailrig host trusts, as a public CA is on a real server:
      // update-ca-certificates adds it to /etc/ssl/certs, where Python's default context (the policy
      // fetch over HTTPS) and Postfix's smtp_tls_CAfile (the MX's chain) both find it.
      const remoteCert = await remote.exec(`cat ${TLS_CERT}`);
      assert.equal(remoteCert.code, 0, remoteCert.stderr);
      const pem = remoteCert.stdout;
      const names = (new X509Certificate(pem).subjectAltName ?? '').split(', ');
      for (const name of ['mail.remote.example.net', 'mta-sts.remote.example.net', 'mta-sts.sender.example.org']) assert.ok(names.includes(`DNS:${name}`), `${name} in ${names.join(' ')}`);
      assert.ok(!names.includes('DNS:mx.sender.example.org'), 'mx.sender.example.org is not a name of the certificate');
      const trusted = await host.exec('cat > /usr/local/share/ca-certificates/mailrig-test-remote.crt && update-ca-certificates >/dev/null 2>&1', { stdin: pem });
      assert.equal(trusted.code, 0, trusted.stderr);

      const own = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
      assert.equal(own.code, 0, show(own));
      const theirs = await remoteWs.mailrig(['dns', '--format', 'bind', '--zone', 'remote.example.net']);
      assert.equal(theirs.code, 0, show(theirs));
      assert.match(theirs.out, /^_25\._tcp\.mail\S* .*TLSA\s+3 1 1 [0-9a-f]{64}$/m, 'the second host publishes its TLSA record');
      remoteRecords = theirs.out;
      const zones = [
        { origin: 'example.com', text: own.out },
        senderZone(host.gateway, remote.address),
        { origin: 'remote.example.net', text: await signZone(remoteKey, withSerial(remoteRecords, serial)) },
        zone('bl.example.net', [`${reversed(host.gateway)} IN A 127.0.0.2`]),
        zone('err.example.net', [`${reversed(host.gateway)} IN A 127.255.255.254`]),
      ];
      // One knotd per host, on this machine's end of its link, where the host's resolver forwards to.
      for (const t of [host, remote]) knots.push(await startKnot({ zones, listenAddress: t.gateway, port: 53 }));
      // Both hosts' resolvers start afresh (they may have given up on a forwarder that was not there
      // yet), and rspamd after them.
      await Promise.all([host, remote].map(async (t) => {
        await restartResolver(t);
        const restarted = await t.exec('service rspamd restart </dev/null >/dev/null 2>&1');
        assert.equal(restarted.code, 0, restarted.stderr);
        await until(async () => ((await t.exec('rspamc stat >/dev/null 2>&1')).code === 0 ? true : undefined), 90_000, `rspamd answers on ${t.name}`);
      }));
      process.stderr.write(`# ${debian}: DNS served and rspamd restarted in ${elapsed()}\n`);
    });
    after(async () => {
      for (const rule of natRules) await execa('iptables', ['-t', 'nat', '-D', ...rule], { reject: false });
      for (const k of knots) await k.stop();
      remoteKey?.remove();
      await Promise.all([host?.stop(), remote?.stop()]);
    });

    it('the SRS secret stays in the key store and reaches the host root-only, never printed; postsrsd on loopback', async () => {
      const secret = readFileSync(join(ws.dir, '.mailrig/secrets/srs'), 'utf8').trim();
      const onHost = await host.exec('stat -c "%a %U:%G" /etc/postsrsd.secret; cat /etc/postsrsd.secret; pgrep -x postsrsd >/dev/null && echo running');
      const [mode, content, running] = onHost.stdout.trim().split('\n');
      assert.equal(mode, '600 root:root');
      assert.equal(content, secret);
      assert.equal(running, 'running');
      // Its tables answer on loopback only.
      const listening = await host.exec(`ss -Hltn '( sport = :${SRS_PORTS.forward} or sport = :${SRS_PORTS.reverse} )' | awk '{print $4}' | sort`);
      assert.deepEqual(listening.stdout.trim().split('\n'), [`127.0.0.1:${SRS_PORTS.forward}`, `127.0.0.1:${SRS_PORTS.reverse}`]);
      // So do mta-sts-daemon and the TLS policy front (systemd holds both ports for them), and once
      // asked they run as the package's unprivileged user.
      const ports = await host.exec(`ss -Hltn '( sport = :${STS_PORTS.daemon} or sport = :${STS_PORTS.front} )' | awk '{print $4}' | sort`);
      assert.deepEqual(ports.stdout.trim().split('\n'), [`127.0.0.1:${STS_PORTS.daemon}`, `127.0.0.1:${STS_PORTS.front}`]);
      await askMap(STS_PORTS.front, 'sender.example.org');
      await askMap(STS_PORTS.daemon, 'sender.example.org');
      const users = await host.exec('ps -o user= -C mta-sts-daemon,sts-front | sort -u');
      assert.equal(users.stdout.trim(), '_mta-sts');
      const plan = await ws.mailrig(['plan']);
      assert.equal(plan.code, 0, show(plan));
      assert.ok(!plan.out.includes(secret) && !plan.err.includes(secret), 'the plan never shows the secret');
    });

    it('a forward: dave gets an SRS envelope sender at example.com, SPF passes there and the ARC seal holds', async () => {
      const id = await inject(`fwd@${PROVISIONED.domain}`, 'forwarded to dave');
      const text = await arrived(remote, DAVE, id);
      const returnPath = /^Return-Path: <([^>]*)>/m.exec(text)?.[1] ?? '';
      assert.match(returnPath, /^SRS0=[^=]+=[^=]+=sender\.example\.org=carol@example\.com$/i, text);
      srsAddress = returnPath;
      assert.match(text, /^From: Carol <carol@sender\.example\.org>$/m, 'the From: header is not rewritten');
      assert.match(text, /^ARC-Seal: i=1;[^\n]*(\n\s[^\n]*)*\bd=example\.com;/m, text);
      const line = await scanned(remote, id);
      assert.match(line, /R_SPF_ALLOW\(/, line);
      assert.match(line, /ARC_ALLOW\([^)]*\)\{[^}]*example\.com[^}]*\}/, line);
      process.stderr.write(`# ${debian}: forward checked at ${elapsed()}\n`);
    });

    it('without SRS the same envelope sender fails SPF at the second host', async () => {
      const id = `<no-srs-${tag}@sender.example.org>`;
      // One SMTP session from the mailrig host's own address, each reply read before the next command.
      const session = await host.exec('bash -s', {
        stdin: [
          `exec 3<>/dev/tcp/${remote.address}/25 || exit 1`,
          'reply() { while IFS= read -r -t 60 line <&3; do echo "$line"; case "$line" in [0-9][0-9][0-9]" "*) return 0;; esac; done; return 1; }',
          'say() { printf "%s\\r\\n" "$1" >&3; reply; }',
          'reply',
          'say "EHLO mail.example.com"',
          `say "MAIL FROM:<${CAROL}>"`,
          `say "RCPT TO:<${DAVE}>"`,
          'say DATA',
          `printf 'From: Carol <${CAROL}>\\r\\nTo: ${DAVE}\\r\\nSubject: sent on without SRS\\r\\nMessage-ID: ${id}\\r\\nDate: %s\\r\\n\\r\\nno SRS\\r\\n.\\r\\n' "$(date -R)" >&3`,
          'reply',
          'say QUIT',
        ].join('\n'),
        timeoutMs: 120_000,
      });
      assert.match(session.stdout, /^250 [^\n]*queued as/m, `${session.stdout}\n${session.stderr}`);
      const line = await scanned(remote, id);
      assert.match(line, /R_SPF_FAIL\(/, line);
      assert.doesNotMatch(line, /R_SPF_ALLOW\(/, line);
      const text = await arrived(remote, DAVE, id);
      assert.match(text, /^Return-Path: <carol@sender\.example\.org>$/m, 'delivered on the second host with its sender as it came');
    });

    it('a forward the second host refuses bounces to the SRS address, which finds its way back to carol', async () => {
      const id = await inject(`gone@${PROVISIONED.domain}`, 'forwarded to nobody');
      const bounce = await arrived(remote, CAROL, id, 'text');
      assert.match(bounce, /nobody@remote\.example\.net/, bounce);
      assert.match(bounce, /^Return-Path: <>$/m, bounce);
      const log = (await host.exec('grep -F "to=<carol@sender.example.org>" /var/log/postfix.log')).stdout;
      assert.match(log, /to=<carol@sender\.example\.org>, orig_to=<SRS0=[^>]*@example\.com>, relay=mail\.remote\.example\.net\[[^\]]+\]:25,.*status=sent/, log);
      process.stderr.write(`# ${debian}: bounce checked at ${elapsed()}\n`);
    });

    it('a bounce the second host sends after accepting reaches carol through the SRS address', async () => {
      assert.ok(srsAddress, 'the SRS address of the forward above');
      // What the second host's Postfix sends when a message it accepted cannot be delivered: a
      // report from the null sender to the envelope sender, found through example.com's MX.
      const id = `<late-bounce-${tag}@remote.example.net>`;
      const report = [`From: MAILER-DAEMON@remote.example.net`, `To: ${srsAddress}`, 'Subject: Undelivered Mail Returned to Sender', `Message-ID: ${id}`, '', 'dave@remote.example.net: mailbox unavailable', ''].join('\n');
      const sent = await remote.exec(`/usr/sbin/sendmail -f '<>' '${srsAddress}'`, { stdin: report });
      assert.equal(sent.code, 0, sent.stderr);
      const text = await arrived(remote, CAROL, id);
      assert.match(text, /^Return-Path: <>$/m, text);
      const log = (await host.exec(`grep -F 'orig_to=<${srsAddress}>' /var/log/postfix.log`)).stdout;
      assert.match(log, /to=<carol@sender\.example\.org>, orig_to=<SRS0=[^>]*@example\.com>, relay=mail\.remote\.example\.net\[[^\]]+\]:25,.*status=sent/, log);
    });

    it('mail from outside delivered here keeps its envelope sender', async () => {
      const id = await inject(PROVISIONED.bob, 'delivered here');
      const text = await arrived(host, PROVISIONED.bob, id);
      assert.match(text, /^Return-Path: <carol@sender\.example\.org>$/m, text);
    });

    it('while postsrsd is down, mail gets a temporary error instead of leaving unrewritten', async () => {
      const stopped = await host.exec('service postsrsd stop >/dev/null 2>&1');
      assert.equal(stopped.code, 0, stopped.stderr);
      try {
        const refused = await inject(`fwd@${PROVISIONED.domain}`, 'while postsrsd is down').then(
          () => undefined,
          (e: { responseCode?: number; response?: string }) => e,
        );
        assert.ok(refused, 'the message was not accepted');
        assert.ok(refused.responseCode !== undefined && refused.responseCode >= 400 && refused.responseCode < 500, String(refused.response));
      } finally {
        const started = await host.exec(`service postsrsd start >/dev/null 2>&1 && for i in $(seq 1 100); do ss -ltn | grep -q ':${SRS_PORTS.forward} ' && exit 0; sleep 0.1; done; exit 1`);
        assert.equal(started.code, 0, 'postsrsd listens again');
      }
    });

    it("blocklists: the sending address's listing counts; an error answer (127.255.255.254) is no listing", async () => {
      const id = await inject(PROVISIONED.bob, 'from a listed address');
      const line = await scanned(host, id);
      assert.match(line, /MAILRIG_RBL_BL_EXAMPLE_NET\(/, line);
      assert.match(line, /MAILRIG_RBL_ERR_EXAMPLE_NET_ERROR\(/, line);
      assert.doesNotMatch(line, /MAILRIG_RBL_ERR_EXAMPLE_NET\(/, line);
      await arrived(host, PROVISIONED.bob, id);
    });

    it('DANE: with a matching TLSA record, mail leaves over a verified connection', async () => {
      const { queueId, messageId } = await sendAsBob(DAVE, 'dane matching');
      const line = await attempt(queueId, DAVE, 'sent');
      assert.equal(await tlsOf(line), 'Verified', line);
      const text = await arrived(remote, DAVE, messageId);
      assert.match(text, /^Received: from mail\.example\.com[^\n]*\n(\s[^\n]*\n)*?\s+\(using TLSv1\.[23]/m, text);
      process.stderr.write(`# ${debian}: DANE verified at ${elapsed()}\n`);
    });

    it('DANE: a TLSA record that does not match the served key defers the mail; fixed, it is delivered', async () => {
      await serveRemote((records) => records.replace(/(TLSA\s+3 1 1 )[0-9a-f]{64}/g, `$1${STALE_TLSA}`));
      const { queueId, messageId } = await sendAsBob(DAVE, 'dane stale tlsa');
      const deferred = await attempt(queueId, DAVE, 'deferred');
      assert.match(deferred, /certificate|TLSA|TLS/i, deferred);
      assert.equal(await inDavesMailbox(messageId), false, 'not delivered to a key the TLSA record does not name');
      await serveRemote();
      const flushed = await host.exec(`postqueue -i ${queueId}`);
      assert.equal(flushed.code, 0, flushed.stderr);
      const sent = await attempt(queueId, DAVE, 'sent');
      assert.equal(await tlsOf(sent), 'Verified', sent);
      await arrived(remote, DAVE, messageId);
    });

    it('DANE: a receiving server that stops offering STARTTLS gets no mail in plaintext', async () => {
      const off = await remote.exec("postconf -e 'smtpd_discard_ehlo_keywords = silent-discard, starttls' && postfix reload >/dev/null 2>&1");
      assert.equal(off.code, 0, off.stderr);
      let queued = '';
      try {
        const { queueId, messageId } = await sendAsBob(DAVE, 'dane no starttls');
        queued = queueId;
        const deferred = await attempt(queueId, DAVE, 'deferred');
        assert.match(deferred, /TLS is required, but was not offered/, deferred);
        assert.equal(await inDavesMailbox(messageId), false, 'not delivered in plaintext');
      } finally {
        const on = await remote.exec('postconf -X smtpd_discard_ehlo_keywords && postfix reload >/dev/null 2>&1');
        assert.equal(on.code, 0, on.stderr);
      }
      // Offered again: the queued message leaves, verified.
      assert.equal((await host.exec(`postqueue -i ${queued}`)).code, 0);
      assert.equal(await tlsOf(await attempt(queued, DAVE, 'sent')), 'Verified');
    });

    it('DANE: a bogus signature over the TLSA records defers the mail instead of passing for "no TLSA"', async () => {
      await serveRemote(undefined, (signed) => breakSignature(signed, 'TLSA'));
      const { queueId, messageId } = await sendAsBob(DAVE, 'dane bogus signature');
      const deferred = await attempt(queueId, DAVE, 'deferred');
      assert.match(deferred, /TLSA/, deferred);
      assert.equal(await inDavesMailbox(messageId), false, 'not delivered while the TLSA records cannot be trusted');
      await serveRemote();
      assert.equal((await host.exec(`postqueue -i ${queueId}`)).code, 0);
      assert.equal(await tlsOf(await attempt(queueId, DAVE, 'sent')), 'Verified');
      await arrived(remote, DAVE, messageId);
    });

    it('a domain without DNSSEC gets opportunistic TLS, as before DANE', async () => {
      const { queueId, messageId } = await sendAsBob(CAROL, 'no dnssec');
      const line = await attempt(queueId, CAROL, 'sent');
      // The same server as dave's, with the same key: only sender.example.org's unsigned MX makes the
      // difference. Encrypted, its name not checked (Trusted: the chain is one this host knows).
      assert.equal(await tlsOf(line), 'Trusted', line);
      await arrived(remote, CAROL, messageId);
      // No MTA-STS record either: the front passes the question on, mta-sts-daemon has no policy.
      assert.match(await askMap(STS_PORTS.front, 'sender.example.org'), /^\d+:NOTFOUND ?,$/);
    });

    it('MTA-STS: an enforce policy whose mx does not match the MX defers the mail', async () => {
      await serveSender({ policy: stsPolicy('enforce', 'mx.elsewhere.example.org') });
      assert.match(await askMap(STS_PORTS.front, 'sender.example.org'), /^\d+:OK secure match=mx\.elsewhere\.example\.org\b/);
      const { queueId, messageId } = await sendAsBob(CAROL, 'sts mx mismatch');
      const deferred = await attempt(queueId, CAROL, 'deferred');
      assert.match(deferred, /certificate not verified/i, deferred);
      assert.equal(await inMailbox(CAROL, messageId), false, 'not delivered to an MX the policy does not name');
    });

    it("MTA-STS: an enforce policy naming an MX whose certificate lacks that name defers the mail", async () => {
      await serveSender({ mx: 'mx.sender.example.org', policy: stsPolicy('enforce', 'mx.sender.example.org') });
      const { queueId, messageId } = await sendAsBob(CAROL, 'sts certificate name');
      const deferred = await attempt(queueId, CAROL, 'deferred');
      assert.match(deferred, /certificate not verified/i, deferred);
      assert.match(deferred, /relay=mx\.sender\.example\.org\[/, deferred);
      assert.equal(await inMailbox(CAROL, messageId), false, 'not delivered to a certificate without the MX name');
    });

    it('MTA-STS: an enforce policy that matches delivers over a verified connection', async () => {
      await serveSender({ policy: stsPolicy('enforce', 'mail.remote.example.net') });
      const { queueId, messageId } = await sendAsBob(CAROL, 'sts enforce matching');
      const line = await attempt(queueId, CAROL, 'sent');
      assert.equal(await tlsOf(line), 'Verified', line);
      await arrived(remote, CAROL, messageId);
    });

    it('MTA-STS on demand: idle, the front, the proxy and mta-sts-daemon exit; the next mail starts them and is still verified', async () => {
      const units = [STS_FRONT_UNIT, MTA_STS_ON_DEMAND_UNIT];
      const dropIns = units.map((u) => `/etc/systemd/system/${u}.service.d/test-idle.conf`);
      const set = await host.exec(
        units.map((u, i) => `mkdir -p /etc/systemd/system/${u}.service.d && printf '[Service]\\nEnvironment=EXIT_IDLE_SECONDS=2\\n' > ${dropIns[i]}`).join(' && ') +
          // Stopped, so that the next start reads the drop-ins (the front may still run from an earlier case).
          ` && systemctl daemon-reload && systemctl stop ${units.map((u) => `${u}.service`).join(' ')} ${MTA_STS_UNIT}.service`,
      );
      assert.equal(set.code, 0, set.stderr);
      const running = async () => (await host.exec('pgrep -x sts-front; pgrep -x mta-sts-daemon; pgrep -f "^/usr/lib/systemd/systemd-socket-proxyd "')).stdout.trim();
      const gone = () => until(async () => ((await running()) === '' ? true : undefined), 180_000, async () => `still running: ${await running()}`);
      try {
        // An enforce policy that matches, and the caches emptied.
        await serveSender({ policy: stsPolicy('enforce', 'mail.remote.example.net') });
        assert.match(await askMap(STS_PORTS.front, 'sender.example.org'), /^\d+:OK secure match=mail\.remote\.example\.net\b/);
        assert.notEqual(await running(), '', 'the question started them');
        await gone();
        // Sockets still held by systemd: the next delivery starts them again and is enforced.
        const { queueId, messageId } = await sendAsBob(CAROL, 'sts after the idle exit');
        const line = await attempt(queueId, CAROL, 'sent');
        assert.equal(await tlsOf(line), 'Verified', line);
        await arrived(remote, CAROL, messageId);
        await gone();
      } finally {
        const reset = await host.exec(`rm -f ${dropIns.join(' ')} && systemctl daemon-reload && systemctl stop ${units.map((u) => `${u}.service`).join(' ')}`);
        assert.equal(reset.code, 0, reset.stderr);
      }
    });

    it('MTA-STS: a testing policy that does not match is not enforced; nothing logs the mismatch', async () => {
      await serveSender({ policy: stsPolicy('testing', 'mx.elsewhere.example.org') });
      const { queueId, messageId } = await sendAsBob(CAROL, 'sts testing mismatch');
      const line = await attempt(queueId, CAROL, 'sent');
      assert.equal(await tlsOf(line), 'Trusted', line);
      await arrived(remote, CAROL, messageId);
      // mta-sts-daemon fetched the policy (its cache holds it) and answers "no policy" for testing
      // mode (strict_testing off); it logs nothing of it, and Postfix logs only the unverified session.
      assert.match(await askMap(STS_PORTS.daemon, 'sender.example.org'), /^\d+:NOTFOUND ?,$/);
      const cached = await host.exec(
        `python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select pol_body from sts_policy_cache where domain = ?", (sys.argv[2],)).fetchone()[0])' ${MTA_STS_CACHE} sender.example.org`,
      );
      assert.equal(cached.code, 0, cached.stderr);
      assert.match(cached.stdout, /"mode": "testing"/, cached.stdout);
    });

    it('MTA-STS and DANE: with TLSA records and an enforce policy that does not match, DANE wins', async () => {
      await writePolicy(stsPolicy('enforce', 'mx.elsewhere.example.org'));
      // A new policy id in remote.example.net's _mta-sts record, and the caches emptied.
      await serveRemote((records) => records.replace(/(v=STSv1; id=)\w+/, `$1dane${serial}`));
      // mta-sts-daemon alone would have Postfix check the certificate against the policy's MX name;
      // the front answers "dane", and Postfix verifies against the TLSA records instead.
      assert.match(await askMap(STS_PORTS.daemon, 'remote.example.net'), /OK secure match=mx\.elsewhere\.example\.org/);
      assert.equal(await askMap(STS_PORTS.front, 'remote.example.net'), '7:OK dane,');
      const { queueId, messageId } = await sendAsBob(DAVE, 'dane wins over sts');
      const line = await attempt(queueId, DAVE, 'sent');
      assert.equal(await tlsOf(line), 'Verified', line);
      await arrived(remote, DAVE, messageId);
    });

    it('MTA-STS: while the TLS policy front is down, mail waits instead of leaving without its policy', async () => {
      await serveSender({ policy: stsPolicy('enforce', 'mail.remote.example.net') });
      // Its socket too: nothing would start it.
      const stopped = await host.exec(`systemctl stop ${STS_FRONT_UNIT}.socket ${STS_FRONT_UNIT}.service`);
      assert.equal(stopped.code, 0, stopped.stderr);
      let queued = '';
      try {
        const { queueId, messageId } = await sendAsBob(CAROL, 'sts front down');
        queued = queueId;
        const deferred = await attempt(queueId, CAROL, 'deferred');
        // Postfix: "client TLS configuration problem" (the policy table did not answer).
        assert.match(deferred, /TLS configuration problem|policy/i, deferred);
        assert.equal(await inMailbox(CAROL, messageId), false, 'not delivered without a policy answer');
      } finally {
        const started = await host.exec(`systemctl start ${STS_FRONT_UNIT}.socket`);
        assert.equal(started.code, 0, started.stderr);
        await until(
          async () => ((await host.exec(`ss -Hltn 'sport = :${STS_PORTS.front}'`)).stdout.includes(`127.0.0.1:${STS_PORTS.front}`) ? true : undefined),
          30_000,
          'the TLS policy front listening',
        );
      }
      assert.equal((await host.exec(`postqueue -i ${queued}`)).code, 0);
      assert.equal(await tlsOf(await attempt(queued, CAROL, 'sent')), 'Verified');
    });

    it('check counts the verified and the merely encrypted sessions; with unbound stopped mail waits and check says why', async () => {
      const check = async () => {
        const r = await ws.mailrig(['check', '--json', '--resolver', `${host.gateway}:53`], { hostFlags: true });
        return checkResults(r.out);
      };
      const before = await check();
      assert.equal(resultById(before, 'host.resolver').status, 'ok', resultById(before, 'host.resolver').message);
      // Every delivery to dave above went over a verified session, the one to carol over an unverified one.
      const tls = resultById(before, 'deliverability.outbound-tls');
      assert.equal(tls.status, 'ok', tls.message);
      const [verified = 0, encrypted = 0] = [/(\d+) verified TLS connection/, /(\d+) connections? encrypted/].map((re) => Number(re.exec(tls.message)?.[1]));
      assert.ok(verified >= 5, tls.message);
      assert.ok(encrypted >= 1, tls.message);
      assert.match(tls.message, /\b0 deliveries in plaintext/, tls.message);

      const stopped = await host.exec('service unbound stop >/dev/null 2>&1');
      assert.equal(stopped.code, 0, stopped.stderr);
      try {
        // No fallback nameserver (docs/SECURITY.md says why): the host resolves nothing, and mail to
        // dave waits in the queue instead of leaving without DNSSEC; check still reaches the host
        // over SSH and says why.
        const looked = await host.exec('getent ahostsv4 mail.remote.example.net');
        assert.notEqual(looked.code, 0, looked.stdout);
        const { queueId, messageId } = await sendAsBob(DAVE, 'while unbound is down');
        const deferred = await attempt(queueId, DAVE, 'deferred');
        assert.match(deferred, /Name service error|lookup error|try again/i, deferred);
        const down = resultById(await check(), 'host.resolver');
        assert.equal(down.status, 'fail', down.message);
        assert.match(down.message, /resolver down/);
        await restartResolver(host);
        assert.equal((await host.exec(`postqueue -i ${queueId}`)).code, 0);
        assert.equal(await tlsOf(await attempt(queueId, DAVE, 'sent')), 'Verified');
        await arrived(remote, DAVE, messageId);
      } finally {
        await restartResolver(host);
      }
      process.stderr.write(`# ${debian}: outbound.test.ts in ${elapsed()}\n`);
    });
  });
}
