// The attack suite: the security properties of a running mailrig host, each shown by an attack from
// outside it (docs/SECURITY.md lists them with the setting behind each). It runs on any host a test
// has started and converged, whatever way it got there: security.test.ts gives it each release's
// provisioned host, upgrade.test.ts the Debian 12 host it has just upgraded to 13 and proven.
//
//   describe('a host', () => {
//     let started: ProvisionedHost;
//     before(async () => { started = await startProvisionedHost({ release: 'bookworm' }); });
//     after(() => started?.host.stop());
//     describeAttacks('attacks on it', () => started);  // a nested describe: runs after the tests above it
//   });
//
// The suite gives the host the test's security settings by `mailrig apply` (its first test), and
// serves the zone `mailrig dns` prints to the host's resolver from a knotd on this machine. About
// 4 minutes per host. Needs Debian's testssl.sh and postfix packages here (the latter for its
// smtp-source client).
//
// Who attacks from where. Every client runs on this machine, never inside the host: it reaches the
// host from the host link's gateway address, which is not in Postfix's mynetworks nor in rspamd's
// local_addrs (the first test proves it), so the host treats it as any stranger on the internet.
// Attacks that leave a mark (fail2ban bans, postscreen's memory) come from addresses of their own,
// added to this machine's end of the link for the suite's run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { ehloKeywords, probe, saslPlain, Session, sleep, smtpSession, timed, tlsOffer, type Endpoint, type StartTls, type TlsOptions } from './attack.js';
import { show, sshAccess, submit, type Workspace } from './e2e.js';
import { TEST_HASH, TEST_PASSWORD } from './fixtures.js';
import { startKnot, type KnotServer } from './knot.js';
import { PROVISIONED } from './provisioned.js';
import type { TestHost } from './testhost.js';

const run = promisify(execFile);

const ALICE = 'alice@example.com';
const ALICE_PASSWORD = PROVISIONED.alicePassword;
const BOB = 'bob@example.com';
/** The test config's security section: a short ban, so the test can see it end. */
const MAX_AUTH_FAILURES = 3;
const BAN_MINUTES = 1;
/** A wrong password must cost the guesser at least this long (Dovecot's auth_failure_delay is 5 s). */
const FAILURE_DELAY_FLOOR_MS = 2000;
const LOAD_MESSAGES = 2000;
const GTUBE_REJECT = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** A started host with mail for alice and bob (the provisioned image's users), and the workspace that manages it. */
export interface AttackTarget {
  host: TestHost;
  ws: Workspace;
  /** PEM of the certificate the host's TLS ports serve. */
  ca: string;
}

/**
 * Registers the attack suite as a describe block named `title`, in the describe block it is called
 * from: it runs after the tests registered before it, on the host `target` returns then (a target
 * that throws fails the suite's setup, and with it every attack). The caller starts and stops the
 * host; the suite leaves this machine as it found it (its attacker addresses, its knotd).
 */
export function describeAttacks(title: string, target: () => AttackTarget): void {
  describe(title, { timeout: 30 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let knot: KnotServer | undefined;
    let tls: TlsOptions;
    /** This machine's end of the host's link, and the extra attacker addresses added to it. */
    let link: string;
    const extra: string[] = [];
    let smtpGuesser: string;
    let imapGuesser: string;
    let earlyTalker: string;
    let sshBefore: string;
    let bannedAt = 0;

    const ep = (port: number, localAddress = host.gateway, secure = false): Endpoint => ({
      host: host.address,
      port,
      localAddress,
      ...(secure ? { tls } : {}),
    });

    before(async () => {
      // The attack tools from Debian's packages (Postfix's package only for its smtp-source client;
      // with policy-rc.d in place its daemon never starts here).
      for (const [bin, pkg] of [['/usr/bin/testssl', 'testssl.sh'], ['/usr/sbin/smtp-source', 'postfix']] as const) {
        assert.ok(existsSync(bin), `${bin} is missing: apt-get install ${pkg}`);
      }
      let ca: string;
      ({ host, ws, ca } = target());
      tls = { servername: PROVISIONED.servername, ca };
      const n = host.address.split('.')[2];
      [smtpGuesser, imapGuesser, earlyTalker] = [`198.18.${n}.3`, `198.18.${n}.5`, `198.18.${n}.4`];
      const dev = await run('ip', ['-o', '-4', 'addr', 'show', 'to', `${host.gateway}/32`]);
      link = dev.stdout.split(/\s+/)[1] ?? '';
      // Outside the link's subnet on purpose: the test host NAT rule would rewrite a source address
      // inside it to the gateway's. The host answers through its default route, which is this machine.
      for (const a of [smtpGuesser, imapGuesser, earlyTalker]) {
        await run('ip', ['addr', 'add', `${a}/32`, 'dev', link]);
        extra.push(a);
      }
    });
    after(async () => {
      for (const a of extra) await run('ip', ['addr', 'del', `${a}/32`, 'dev', link]).catch(() => undefined);
      extra.length = 0;
      await knot?.stop();
    });

    it('the security settings apply; the attackers are strangers to the host', async () => {
      // The host's resolver forwards to a knotd on this machine (started below) serving the zone
      // mailrig prints: a real host has working DNS; this one's upstream does not know example.com.
      const path = join(ws.dir, 'mailrig.yaml');
      const yaml = readFileSync(path, 'utf8').replace(/^resolver:\n(?: .*\n)*/m, '').trimEnd();
      writeFileSync(path, `${yaml}\n\nresolver:\n  forwarders: [${host.gateway}]\n  root_trust_anchor: false\n`);
      editConfig(ws, [
        ['        # aliases: [first.last]', '        aliases: [a.smith]'],
        ['\n    aliases:', `\n      load:\n        password_hash: "${TEST_HASH}"\n    aliases:`],
        // Greylisting off: the load test's 2,000 messages from one unknown client must not be
        // deferred (a real sender would retry); GTUBE patterns on (tests only).
        [/^  greylisting: (?:true|false)\n/m, `  greylisting: false\n  gtube: true\n\nsecurity:\n  max_auth_failures: ${MAX_AUTH_FAILURES}\n  ban_minutes: ${BAN_MINUTES}\n`],
      ]);
      sshBefore = await sshAccess(host);
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));

      // The zone the host's resolver asks for; unbound and rspamd start afresh once it is served (they
      // may have given up on a forwarder that was not there yet).
      const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
      assert.equal(zone.code, 0, show(zone));
      knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.out }], listenAddress: host.gateway, port: 53 });
      const resolver = await host.exec('service unbound restart </dev/null >/dev/null 2>&1');
      assert.equal(resolver.code, 0, resolver.stderr);
      await eventually(async () => (await host.exec("ss -Hlun 'sport = :53'")).stdout.includes('127.0.0.1:53'), 30_000, 'unbound listens again');
      const dns = await host.exec('service rspamd restart </dev/null >/dev/null 2>&1');
      assert.equal(dns.code, 0, dns.stderr);
      // Restarted means answering again (its controller), not merely started.
      await eventually(async () => (await host.exec('rspamc stat >/dev/null 2>&1')).code === 0, 60_000, 'rspamd answers after its restart');

      // Not trusted: neither Postfix's mynetworks nor rspamd's local addresses hold the gateway.
      const trusted = await host.exec('postconf -h mynetworks; rspamadm configdump options 2>/dev/null | sed -n "/local_addrs/,/]/p"');
      assert.doesNotMatch(trusted.stdout, new RegExp(`${host.gateway.replace(/\./g, '\\.')}\\b|10\\.0\\.0\\.0/8`), trusted.stdout);
      // And Postfix sees the gateway, not loopback: the connection is logged from it.
      const { c } = await smtpSession(ep(587));
      await c.command('QUIT');
      c.close();
      await eventually(() => postfixLogged(host, `connect from unknown\\[${host.gateway}\\]`), 30_000, 'Postfix logs the gateway as the client');
    });

    it('2. guessing passwords is slow, and a guesser is blocked after max_auth_failures (SMTP and IMAP)', async () => {
      // One failure fewer than the limit from each guesser, concurrently: each costs seconds, and
      // neither guesser is blocked yet.
      // The SMTP guesses go one after another, as a client that waits for each answer does: Postfix
      // gives Dovecot 10 s per AUTH, and guesses in flight together from one address add Dovecot's
      // per-address penalty to the failure delay, which can pass that limit under load (Postfix then
      // answers 454, and its log line is not one fail2ban's postfix filter counts).
      const smtpGuesses = async () => {
        const results = [];
        for (let i = 0; i < MAX_AUTH_FAILURES - 1; i++) results.push(await timed(() => smtpAuthFails(smtpGuesser)));
        return results;
      };
      const first = (
        await Promise.all([smtpGuesses(), ...Array.from({ length: MAX_AUTH_FAILURES - 1 }, async () => [await timed(() => imapLoginFails(imapGuesser))])])
      ).flat();
      for (const f of first) {
        assert.match(f.value, /^(535 |a NO )/, 'the wrong password was refused');
        assert.ok(f.ms > FAILURE_DELAY_FLOOR_MS, `a wrong password was answered after ${Math.round(f.ms)} ms`);
      }
      // Once fail2ban has counted every one of those failures (its own tally), whether it banned
      // anyone is settled: a ban is decided as a failure is counted.
      for (const jail of ['postfix-sasl', 'dovecot']) {
        await eventually(async () => (await jailFailures(host, jail)) >= MAX_AUTH_FAILURES - 1, 60_000, `fail2ban counted the failures in ${jail}`);
      }
      assert.equal(await probe(host.address, 587, smtpGuesser), 'open', `${MAX_AUTH_FAILURES - 1} failures do not block yet`);
      assert.equal(await probe(host.address, 993, imapGuesser), 'open', `${MAX_AUTH_FAILURES - 1} failures do not block yet`);

      // The failure that reaches the limit: both guessers lose every mail port, soon.
      await Promise.all([smtpAuthFails(smtpGuesser), imapLoginFails(imapGuesser)]);
      bannedAt = Date.now();
      for (const guesser of [smtpGuesser, imapGuesser]) {
        await eventually(async () => (await probe(host.address, 587, guesser)) === 'refused', 15_000, `${guesser} blocked on 587`);
        for (const port of [25, 465, 143, 993]) assert.equal(await probe(host.address, port, guesser), 'refused', `${guesser} blocked on ${port}`);
        // fail2ban never touches SSH: the operator keeps access even from a blocked address.
        assert.equal(await probe(host.address, 22, guesser), 'open', `${guesser} still reaches SSH`);
      }
      // Everyone else is unaffected.
      assert.equal(await probe(host.address, 587), 'open');
      const jails = await host.exec('fail2ban-client status postfix-sasl; fail2ban-client status dovecot');
      assert.match(jails.stdout, new RegExp(`postfix-sasl[\\s\\S]*Banned IP list:\\s+${smtpGuesser}`), jails.stdout);
      assert.match(jails.stdout, new RegExp(`dovecot[\\s\\S]*Banned IP list:\\s+${imapGuesser}`), jails.stdout);
    });

    it('1. an untrusted client cannot relay, can deliver locally; a logged-in user can send out', async () => {
      const { c } = await smtpSession(ep(25));
      assert.equal((await c.command('MAIL FROM:<stranger@outside.test>')).code, 250);
      const relay = await c.command('RCPT TO:<victim@elsewhere.test>');
      assert.equal(relay.code, 554, relay.raw);
      assert.match(relay.raw, /5\.7\.1 .*Relay access denied/);
      const local = await c.command(`RCPT TO:<${ALICE}>`);
      assert.equal(local.code, 250, local.raw);
      await c.command('QUIT');
      c.close();

      // Postfix cannot deliver to elsewhere.test (no DNS): acceptance into the queue is the proof.
      const sent = await submit(
        { host: host.address, port: 587, user: ALICE, password: ALICE_PASSWORD, ca: tls.ca, servername: tls.servername },
        { from: ALICE, to: 'friend@elsewhere.test', subject: 'out', text: 'Relayed because I logged in.' },
      );
      assert.deepEqual(sent.rejected, []);
      assert.match(sent.response, /^250 /);
    });

    it('2. no AUTH on 25; none on 587 before STARTTLS, where MAIL gets 530; IMAP 143 says LOGINDISABLED', async () => {
      const s25 = await smtpSession(ep(25));
      assert.ok(s25.ehlo);
      assert.ok(!ehloKeywords(s25.ehlo).includes('AUTH'), s25.ehlo.raw);
      assert.equal((await s25.c.command('STARTTLS')).code, 220);
      await s25.c.startTls(tls);
      const ehloTls = await s25.c.command('EHLO attacker.test');
      assert.ok(!ehloKeywords(ehloTls).includes('AUTH'), `no AUTH on 25 even with TLS: ${ehloTls.raw}`);
      s25.c.close();

      const s587 = await smtpSession(ep(587));
      assert.ok(s587.ehlo);
      assert.ok(!ehloKeywords(s587.ehlo).includes('AUTH'), s587.ehlo.raw);
      const mail = await s587.c.command(`MAIL FROM:<${ALICE}>`);
      assert.equal(mail.code, 530, mail.raw);
      assert.match(mail.raw, /5\.7\.0 Must issue a STARTTLS command first/);
      assert.equal((await s587.c.command(`AUTH PLAIN ${saslPlain(ALICE, ALICE_PASSWORD)}`)).code, 530, 'no password in clear text');
      s587.c.close();

      const imap = await Session.open(ep(143));
      const greeting = (await imap.line()) ?? '';
      assert.match(greeting, /LOGINDISABLED/, greeting);
      assert.match((await imap.imap('a', 'STARTTLS')).at(-1) ?? '', /^a OK/);
      await imap.startTls(tls);
      const caps = (await imap.imap('b', 'CAPABILITY')).join('\n');
      assert.doesNotMatch(caps, /LOGINDISABLED/, 'login is possible once encrypted');
      assert.match(caps, /AUTH=PLAIN/);
      imap.close();
    });

    it('3. TLS on 25, 587, 465, 143, 993 and 443: TLS 1.2+ only, forward-secret AEAD ciphers, no compression or insecure renegotiation', { timeout: 12 * 60_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'mailrig-testssl-'));
      // testssl.sh scans one port of each daemon: Postfix (25), Dovecot (993), nginx (443). -p
      // protocols, -e every offered cipher (--fast: through openssl in bulk), -R renegotiation, -C
      // compression. Nothing else: the scans run at once. The cipher categories (-s: NULL, EXPORT,
      // LOW, 3DES, CBC) would ask openssl again about ciphers -e lists one by one, each of which
      // must be forward-secret AEAD below. A scan still running when the test ends is stopped, so
      // it cannot load the host during later tests.
      const scanned: Array<[number, StartTls]> = [[25, 'smtp'], [993, undefined], [443, undefined]];
      // The daemon's other ports (a master.cf service or a Dovecot listener may override the TLS
      // settings) are held to what its scanned port offers by handshakes of this test's own
      // (tlsOffer): the same certificate, protocol versions and cipher list. The same handshakes on
      // the scanned ports must find what testssl.sh found, so they see what it sees.
      const siblings: Array<[number, StartTls, number]> = [[587, 'smtp', 25], [465, undefined, 25], [143, 'imap', 993]];
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const [scans, offers] = await Promise.all([
        Promise.all(
          scanned.map(async ([port, starttls]) => {
            const json = join(dir, `${port}.json`);
            await run('testssl', ['--quiet', '--color', '0', '--warnings', 'off', '--sneaky', '--nodns', 'none', '--fast', '-p', '-e', '-R', '-C', ...(starttls ? ['--starttls', starttls] : []), '--jsonfile', json, `${host.address}:${port}`], { maxBuffer: 1 << 24, signal: t.signal }).catch(() => undefined);
            return { port, findings: JSON.parse(readFileSync(json, 'utf8')) as Array<{ id: string; finding: string; severity: string }> };
          }),
        ),
        Promise.all([...scanned, ...siblings].map(async ([port, starttls]) => [port, await tlsOffer({ ...ep(port), tls }, starttls)] as const)),
      ]);
      const offered = new Map(offers);
      for (const { port, findings } of scans) {
        const byId = new Map(findings.map((f) => [f.id, f.finding]));
        const where = `port ${port}`;
        assert.match(byId.get('TLS1_2') ?? '', /^offered/, `${where}: the scan reached TLS 1.2`);
        for (const old of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(byId.get(old) ?? 'missing', /^not offered/, `${where}: ${old}`);
        const ciphers = findings.filter((f) => f.id.startsWith('cipher_x'));
        assert.ok(ciphers.length > 0, `${where}: testssl listed the offered ciphers`);
        const names: string[] = [];
        for (const c of ciphers) {
          // "xc02b   ECDHE-ECDSA-AES128-GCM-SHA256   ECDH 253   AESGCM   128   TLS_ECDHE_…" (the
          // key exchange's bits may be missing; --fast spells ChaCha20 in capitals)
          const m = /^x\w+\s+(\S+)\s+(\S+)(?:\s+\d+)?\s+(\S+)\s+\d+/.exec(c.finding.trim());
          const [, name = '', kx = '', enc = ''] = m ?? [];
          assert.ok(m, `${where}: cipher line ${c.finding}`);
          assert.match(kx, /^(ECDH|DH)$/, `${where}: ${name} has forward secrecy`);
          assert.match(enc, /^(AESGCM|ChaCha20|AESCCM)$/i, `${where}: ${name} is an AEAD cipher`);
          // ADH/AECDH: anonymous key exchange (aNULL), forward-secret and AEAD all the same.
          assert.doesNotMatch(name, /RC4|DES|EXP|NULL|CBC|SHA$|^ADH|^AECDH/, `${where}: ${name}`);
          names.push(name);
        }
        assert.match(byId.get('secure_renego') ?? '', /^supported/, `${where}: secure renegotiation`);
        assert.match(byId.get('secure_client_renego') ?? '', /^not vulnerable/, `${where}: client renegotiation`);
        assert.match(byId.get('CRIME_TLS') ?? '', /^not vulnerable/, `${where}: no TLS compression`);
        const offer = offered.get(port);
        assert.deepEqual(offer?.ciphers, names.sort(), `${where}: the handshakes find the ciphers testssl found`);
        assert.deepEqual(offer?.protocols, { TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': /^offered/.test(byId.get('TLS1_3') ?? '') }, `${where}: the handshakes agree with testssl on protocols`);
      }
      for (const [port, , like] of siblings) {
        assert.deepEqual(offered.get(port), offered.get(like), `port ${port} offers what port ${like} does: certificate, protocols and ciphers`);
      }
    });

    it('4. a user cannot send as another user; can send as an alias of its own', async () => {
      const asBob = await authedSubmission(ALICE, ALICE_PASSWORD);
      // Postfix answers sender restrictions at RCPT time (smtpd_delay_reject).
      await asBob.command(`MAIL FROM:<${BOB}>`);
      const envelope = await asBob.command(`RCPT TO:<${ALICE}>`);
      assert.equal(envelope.code, 553, envelope.raw);
      assert.match(envelope.raw, /Sender address rejected: not owned by user/);
      asBob.close();

      const alias = await authedSubmission(ALICE, ALICE_PASSWORD);
      assert.equal((await alias.command('MAIL FROM:<a.smith@example.com>')).code, 250, 'the alias alice owns');
      assert.equal((await alias.command(`RCPT TO:<${BOB}>`)).code, 250);
      alias.close();
    });

    it('4. a user cannot put another user in From:', async () => {
      const s = await authedSubmission(ALICE, ALICE_PASSWORD);
      assert.equal((await s.command(`MAIL FROM:<${ALICE}>`)).code, 250);
      assert.equal((await s.command(`RCPT TO:<${BOB}>`)).code, 250);
      assert.equal((await s.command('DATA')).code, 354);
      s.send(message({ from: BOB, to: BOB, subject: 'header spoof', body: 'Signed as Bob, sent by Alice.' }));
      const end = await s.reply();
      s.close();
      assert.equal(Math.floor(end.code / 100), 5, `From: ${BOB} from Alice's login: ${end.raw}`);
      assert.match(end.raw, /not owned by user/);
    });

    it('4. mail from outside claiming a local sender fails SPF and DMARC and is filed as spam (p=quarantine)', async () => {
      const junkBefore = await countMail(host, 'alice', 'Junk');
      const reply = await sendFromOutside(ep(25), BOB, ALICE, 'spoofed from outside', 'Please pay the attached invoice today. This is really Bob from the office, trust me.');
      assert.equal(reply.code, 250, reply.raw);
      const junk = await eventuallyValue(async () => {
        const files = await mailFiles(host, 'alice', 'Junk');
        return files.length > junkBefore ? files : undefined;
      }, 30_000, 'the spoofed message arrives in Junk');
      const text = (await host.exec(`cat ${junk.at(-1)}`)).stdout;
      assert.match(text, /^Subject: spoofed from outside$/m);
      assert.match(text, /spf=fail/);
      assert.match(text, /dmarc=fail/);
      assert.doesNotMatch(text, /^DKIM-Signature:/m, 'rspamd did not sign mail from a stranger');
    });

    it('5. bare LF cannot end the message: no second message is smuggled', async () => {
      const before = await countMail(host, 'bob');
      const { c } = await smtpSession(ep(25));
      assert.equal((await c.command('MAIL FROM:<stranger@outside.test>')).code, 250);
      assert.equal((await c.command(`RCPT TO:<${BOB}>`)).code, 250);
      assert.equal((await c.command('DATA')).code, 354);
      // Three end-of-data lookalikes, each followed by a whole smuggled transaction.
      const smuggled = (tag: string) => `MAIL FROM:<${ALICE}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\nSubject: smuggled ${tag}\r\n\r\nsmuggled\r\n`;
      c.send('Subject: carrier\r\nFrom: stranger@outside.test\r\n\r\nHello.\n.\n' + smuggled('lf-lf') + '\r\n.\n' + smuggled('crlf-lf') + '\n.\r\n' + smuggled('lf-crlf'));
      c.send('\r\n.\r\n');
      // Had a lookalike ended the data, the server would have answered it and the smuggled commands
      // before this end: the first reply would not be the carrier's, nor the next one QUIT's.
      const end = await c.reply();
      assert.equal(end.code, 250, end.raw);
      const quit = await c.command('QUIT');
      assert.equal(quit.code, 221, `the reply after the end of data answers QUIT: ${quit.raw}`);
      c.close();
      // Nothing for bob left in the queue: every message the session handed over has been delivered.
      await eventually(async () => (await queuedFor(host, BOB)) === 0 && (await countMail(host, 'bob')) >= before + 1, 60_000, 'the carrier arrives');
      assert.equal(await countMail(host, 'bob'), before + 1, 'exactly one message was delivered');
      // Headers only: the smuggled lines are (harmlessly) in the carrier's body.
      const headers = await host.exec(`for f in $(find /var/vmail/example.com/bob/Maildir -type f \\( -path "*/new/*" -o -path "*/cur/*" \\)); do sed -n '1,/^\r*$/p' "$f"; done | grep -c "^Subject: smuggled" || true`);
      assert.equal(headers.stdout.trim(), '0', 'no message has a smuggled Subject header');
    });

    it('5. talking before the greeting, unauthorised pipelining and VRFY are refused', async () => {
      // Port 25: postscreen holds back the end of its greeting; a client that talks first fails.
      const early = await Session.open(ep(25, earlyTalker));
      early.send('EHLO early.test\r\n');
      // The "220-" start of the greeting, then (the greeting never ends for it) postscreen's own
      // stand-in answers the EHLO and turns the client away at RCPT.
      let reply = await early.reply();
      assert.match(reply.raw, /^220-/);
      if (reply.code === 220) reply = await early.reply();
      assert.equal(reply.code, 250, reply.raw);
      await early.command('MAIL FROM:<bot@outside.test>');
      const rcpt = await early.command(`RCPT TO:<${ALICE}>`);
      early.close();
      assert.equal(Math.floor(rcpt.code / 100), 5, `a pre-greeting client cannot deliver: ${rcpt.raw}`);
      await eventually(() => postfixLogged(host, `PREGREET .* from \\[${earlyTalker}\\]`), 30_000, 'postscreen logs PREGREET');

      // Port 587 (smtpd itself): the same gets 554 at once. smtpd looks for early input once, between
      // accepting the connection and greeting, so the EHLO must be there before it can accept: the
      // host drops the talker's bare ACK that would complete the handshake, and the segment carrying
      // the EHLO completes it instead — the connection reaches smtpd with the EHLO already queued.
      const table = 'mailrig_test_pregreet';
      const hold = await host.exec(`nft -f - <<'EOF'
table inet ${table} {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr ${earlyTalker} tcp dport 587 tcp flags == ack drop
  }
}
EOF`);
      assert.equal(hold.code, 0, hold.stderr);
      const sync = await (async () => {
        try {
          const early587 = await Session.open(ep(587, earlyTalker));
          early587.send('EHLO early.test\r\n');
          const reply = await early587.reply();
          early587.close();
          return reply;
        } finally {
          await host.exec(`nft delete table inet ${table}`);
        }
      })();
      assert.equal(sync.code, 554, sync.raw);
      assert.match(sync.raw, /SMTP protocol synchronization/);
      // smtpd's own record that the EHLO was waiting before its greeting.
      await eventually(() => postfixLogged(host, `improper command pipelining after CONNECT from [^ ]*\\[${earlyTalker}\\]: EHLO early.test`), 30_000, 'smtpd logs the EHLO as sent before its greeting');

      // Pipelining after HELO (PIPELINING was never offered): refused and disconnected.
      const { c } = await smtpSession(ep(25), false);
      assert.equal((await c.command('HELO attacker.test')).code, 250);
      c.send(`MAIL FROM:<bot@outside.test>\r\nRCPT TO:<${ALICE}>\r\nDATA\r\n`);
      const piped = await c.reply();
      assert.equal(piped.code, 554, piped.raw);
      assert.match(piped.raw, /SMTP protocol synchronization/);
      assert.ok(await c.closedWithin(5000), 'and the server hung up');
      c.close();

      const vrfy = await smtpSession(ep(25));
      const answer = await vrfy.c.command(`VRFY ${ALICE}`);
      vrfy.c.close();
      assert.equal(answer.code, 502, answer.raw);
    });

    it('6. GTUBE is rejected at the reject threshold', async () => {
      const reply = await sendFromOutside(ep(25), 'stranger@outside.test', ALICE, 'gtube', `This is the GTUBE test pattern.\r\n${GTUBE_REJECT}\r\n`);
      assert.equal(reply.code, 554, reply.raw);
      assert.match(reply.raw, /5\.7\.1/);
    });

    it('6. moving mail into Junk teaches rspamd spam; moving it out teaches ham', async () => {
      const id = `<bayes-${Date.now()}@outside.test>`;
      const reply = await sendFromOutside(ep(25), 'newsletter@outside.test', BOB, 'Bayes lesson', LESSON, id);
      assert.equal(reply.code, 250, reply.raw);
      // The lesson may already score as spam (no reverse DNS here) and be filed into Junk: teach
      // whichever way it can go first, then the other way.
      const folder = await eventuallyValue(async () => {
        for (const f of ['INBOX', 'Junk']) if ((await host.exec(`grep -l -F "${id}" ${mailDir('bob', f)}/new/* ${mailDir('bob', f)}/cur/* 2>/dev/null`)).stdout.trim()) return f;
        return undefined;
      }, 30_000, 'the lesson arrives');
      const other = folder === 'INBOX' ? 'Junk' : 'INBOX';
      const [first, second] = folder === 'INBOX' ? (['spam', 'ham'] as const) : (['ham', 'spam'] as const);
      const learnedBefore = await learnedCount(host);

      const client = new ImapFlow({
        host: host.address, port: 993, secure: true, auth: { user: BOB, pass: TEST_PASSWORD },
        tls: { ca: tls.ca, servername: tls.servername }, logger: false,
      });
      await client.connect();
      try {
        await moveByMessageId(client, folder, other, id);
        await eventually(async () => await rspamdLog(host, `learned message as ${first}: ${id.slice(1, -1)}`), 20_000, `rspamd learned ${first}`);
        const afterFirst = await learnedCount(host);
        assert.ok(afterFirst > learnedBefore, `learn count rose: ${learnedBefore} → ${afterFirst}`);
        await moveByMessageId(client, other, folder, id);
        await eventually(async () => await rspamdLog(host, `learned message as ${second}: ${id.slice(1, -1)}`), 20_000, `rspamd learned ${second}`);
        assert.ok((await learnedCount(host)) > afterFirst, 'learn count rose again');
      } finally {
        await client.logout();
      }
    });

    it('7. private keys are 0600/0640 with the right owners; Redis and rspamd listen on loopback only', async (t) => {
      const out = mkdtempSync(join(tmpdir(), 'mailrig-render-'));
      t.after(() => rmSync(out, { recursive: true, force: true }));
      const render = await ws.mailrig(['render', '--out', join(out, 'tree')]);
      assert.equal(render.code, 0, show(render));
      const manifest = JSON.parse(readFileSync(join(out, 'tree/mailrig-manifest.json'), 'utf8')) as ManifestFile[];
      const secrets = manifest.filter((f) => f.secret);
      const keys = secrets.filter((f) => /\.(pem|key)$/.test(f.path));
      assert.ok(keys.some((f) => f.path === '/etc/mailrig/tls/privkey.pem'), 'the TLS key is a managed secret');
      assert.ok(keys.some((f) => f.path.includes('/dkim/')), 'the DKIM keys are managed secrets');
      for (const f of secrets) {
        const st = (await host.exec(`stat -c '%a %U %G' ${f.path}`)).stdout.trim();
        assert.match(st, /^6[04]0 /, `${f.path}: ${st}`);
        assert.equal(st, `${f.mode.replace(/^0/, '')} ${f.owner} ${f.group}`, `${f.path} as rendered`);
      }
      // The ACME account key, wherever the host keeps one, and the operator's key store.
      const acme = await host.exec('find / -xdev -name "account*.key" -path "*mailrig*" -printf "%m %u %p\\n" 2>/dev/null');
      for (const line of acme.stdout.trim().split('\n').filter(Boolean)) assert.match(line, /^600 root /, line);
      for (const file of ['tls/current.key', 'tls/next.key', 'acme/account.key']) {
        assert.equal(statMode(join(ws.dir, '.mailrig', file)), '600', file);
      }

      const listening = (await host.exec('ss -Hltn')).stdout.split('\n').map((l) => l.split(/\s+/)[3] ?? '');
      // rspamd's normal worker is off (the proxy and the controller scan): nothing on its port.
      assert.deepEqual(listening.filter((a) => a.endsWith(':11333')), [], 'nothing listens on 11333');
      for (const port of [6379, 11332, 11334]) {
        const addrs = listening.filter((a) => a.endsWith(`:${port}`));
        assert.ok(addrs.length > 0, `something listens on ${port}`);
        for (const a of addrs) assert.match(a, /^(127\.0\.0\.1|\[::1\]):/, `port ${port} listens on ${a}`);
        assert.equal(await probe(host.address, port), 'refused', `${port} from outside`);
      }
    });

    it('7. no secret in plan output, the render manifest or the host logs', async (t) => {
      const secrets = secretNeedles(ws);
      // A password change touches a secret file: the plan names it without showing it.
      const hash = /password_hash: "([^"]+)"/.exec(readFileSync(join(ws.dir, 'mailrig.yaml'), 'utf8'))?.[1] ?? '';
      editConfig(ws, [[`        password_hash: "${TEST_HASH}"\n      load:`, `        password_hash: "${hash}"\n      load:`]]);
      const plan = await ws.mailrig(['plan']);
      assert.equal(plan.code, 0, show(plan));
      assert.match(plan.out, /\/etc\/dovecot\/users/, 'the plan lists the users file');
      editConfig(ws, [[`        password_hash: "${hash}"\n      load:`, `        password_hash: "${TEST_HASH}"\n      load:`]]);

      const out = mkdtempSync(join(tmpdir(), 'mailrig-render-'));
      t.after(() => rmSync(out, { recursive: true, force: true }));
      assert.equal((await ws.mailrig(['render', '--out', join(out, 'tree')])).code, 0);
      const manifest = readFileSync(join(out, 'tree/mailrig-manifest.json'), 'utf8');
      const logs = (await host.exec('cat /var/log/*.log /var/log/*/*.log /var/lib/mailrig/*.log 2>/dev/null')).stdout;
      for (const [what, text] of [['plan output', plan.out + plan.err], ['manifest', manifest], ['host logs', logs]] as const) {
        for (const [name, needle] of secrets) assert.ok(!text.includes(needle), `${what} shows ${name}`);
      }
    });

    it('8. 2,000 messages sent concurrently from outside are all delivered, once each', { timeout: 5 * 60_000 }, async () => {
      const before = await countMail(host, 'load');
      const started = Date.now();
      // smtp-source (Postfix's test client, a standalone binary): 40 sessions at once, one
      // message each, from the gateway address.
      await run('smtp-source', ['-s', '40', '-m', String(LOAD_MESSAGES), '-f', 'bulk@outside.test', '-t', 'load@example.com',
        '-M', 'loadtest.outside.test', '-S', 'load test', '-l', '2000', '-c', `${host.address}:25`], { maxBuffer: 1 << 24 });
      // smtp-source has ended: once the queue holds nothing for load@, every accepted message is in
      // the mailbox and the count is final.
      await eventually(async () => (await queuedFor(host, 'load@example.com')) === 0, 180_000, 'every message has left the queue');
      assert.equal(await countMail(host, 'load'), before + LOAD_MESSAGES, 'none lost, none duplicated');
      // Each delivered file carries the queue id Postfix gave it at acceptance: all distinct.
      const ids = await host.exec('find /var/vmail/example.com/load/Maildir -type f \\( -path "*/new/*" -o -path "*/cur/*" \\) -exec grep -h -o -m1 "with E\\?SMTP id [0-9A-Za-z]*" {} + | sort -u | wc -l');
      assert.equal(Number(ids.stdout.trim()), before + LOAD_MESSAGES, 'every message has its own queue id');
      const up = await host.exec('for p in master dovecot rspamd redis-server nginx fail2ban-server; do pgrep -x $p >/dev/null || echo "$p down"; done');
      assert.equal(up.stdout.trim(), '', 'every daemon still runs');
      process.stdout.write(`# load: ${LOAD_MESSAGES} messages delivered in ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

    it('2. the blocked guessers are let back in after ban_minutes; SSH access was not changed', async () => {
      const until = bannedAt + BAN_MINUTES * 60_000;
      if (Date.now() < until) await sleep(until - Date.now());
      for (const guesser of [smtpGuesser, imapGuesser]) {
        await eventually(async () => (await probe(host.address, 587, guesser)) === 'open', 30_000, `${guesser} unblocked`);
        assert.equal(await probe(host.address, 993, guesser), 'open');
      }
      // fail2ban's own record: each ban lasted ban_minutes (the log has second resolution).
      const log = (await host.exec('cat /var/log/fail2ban.log')).stdout;
      for (const guesser of [smtpGuesser, imapGuesser]) {
        const at = (what: string) => Date.parse(new RegExp(`^(\\S+ \\S+),\\d+ .*\\] ${what} ${guesser.replace(/\./g, '\\.')}$`, 'm').exec(log)?.[1]?.replace(' ', 'T') ?? '');
        const seconds = (at('Unban') - at('Ban')) / 1000;
        assert.ok(seconds >= BAN_MINUTES * 60 - 1 && seconds <= BAN_MINUTES * 60 + 30, `${guesser} was blocked for ${seconds} s`);
      }
      assert.equal(await sshAccess(host), sshBefore, 'sshd_config and authorized_keys are as they were before the attacks');
    });

    /** A submission session on 587 after STARTTLS and AUTH, from the gateway. */
    async function authedSubmission(user: string, password: string): Promise<Session> {
      const { c } = await smtpSession(ep(587));
      assert.equal((await c.command('STARTTLS')).code, 220);
      await c.startTls(tls);
      await c.command('EHLO client.test');
      const auth = await c.command(`AUTH PLAIN ${saslPlain(user, password)}`);
      assert.equal(auth.code, 235, auth.raw);
      return c;
    }

    /** One AUTH with a wrong password on 587 (after STARTTLS) from `from`; the server's reply. */
    async function smtpAuthFails(from: string): Promise<string> {
      const { c } = await smtpSession(ep(587, from));
      await c.command('STARTTLS');
      await c.startTls(tls);
      await c.command('EHLO guesser.test');
      const r = await c.command(`AUTH PLAIN ${saslPlain(ALICE, 'wrong-guess')}`);
      c.close();
      return r.raw;
    }

    /** One LOGIN with a wrong password on 993 from `from`, then LOGOUT; the tagged reply. */
    async function imapLoginFails(from: string): Promise<string> {
      const c = await Session.open(ep(993, from, true));
      await c.line();
      const r = await c.imap('a', `LOGIN ${ALICE} wrong-guess`);
      await c.imap('b', 'LOGOUT');
      c.close();
      return r.at(-1) ?? '';
    }
  });
}

interface ManifestFile {
  path: string;
  mode: string;
  owner: string;
  group: string;
  secret: boolean;
}

const LESSON = [
  'Dear customer, our spring catalogue is here with offers on garden furniture, barbecue sets,',
  'outdoor lighting and planters. Order before Friday for free delivery to your door. Visit our',
  'shop to see every product, compare prices and read reviews from other customers. Unsubscribe',
  'at any time from the link in this message. Thank you for shopping with us again this season.',
].join('\r\n');

function message(m: { from: string; to: string; subject: string; body: string; id?: string }): string {
  const id = m.id ?? `<${Date.now()}.${Math.random().toString(36).slice(2)}@outside.test>`;
  return `From: ${m.from}\r\nTo: ${m.to}\r\nSubject: ${m.subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: ${id}\r\n\r\n${m.body}\r\n.\r\n`;
}

/** A whole SMTP transaction on port 25 from outside; the reply to the end of data. */
async function sendFromOutside(ep: Endpoint, from: string, to: string, subject: string, body: string, id?: string) {
  const { c } = await smtpSession(ep);
  try {
    const mail = await c.command(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return mail;
    const rcpt = await c.command(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250) return rcpt;
    const data = await c.command('DATA');
    if (data.code !== 354) return data;
    c.send(message({ from, to, subject, body, ...(id ? { id } : {}) }));
    const end = await c.reply();
    await c.command('QUIT');
    return end;
  } finally {
    c.close();
  }
}

function mailDir(local: string, folder = 'INBOX'): string {
  return `/var/vmail/example.com/${local}/Maildir${folder === 'INBOX' ? '' : `/.${folder}`}`;
}

/** The message files of a mailbox's folder (INBOX unless named), oldest first. */
async function mailFiles(host: TestHost, local: string, folder?: string): Promise<string[]> {
  const dir = mailDir(local, folder);
  const r = await host.exec(`ls -tr ${dir}/new/* ${dir}/cur/* 2>/dev/null`);
  return r.stdout.split('\n').filter(Boolean);
}

/** Messages in every folder of a mailbox. */
async function countMail(host: TestHost, local: string, folder?: string): Promise<number> {
  if (folder) return (await mailFiles(host, local, folder)).length;
  const r = await host.exec(`find /var/vmail/example.com/${local}/Maildir -type f \\( -path "*/new/*" -o -path "*/cur/*" \\) 2>/dev/null | wc -l`);
  return Number(r.stdout.trim());
}

/** Messages in Postfix's queue (any state: incoming, active, deferred, hold) with a recipient. */
async function queuedFor(host: TestHost, recipient: string): Promise<number> {
  const r = await host.exec(`postqueue -j | grep -c -F '"address": "${recipient}"' || true`);
  return Number(r.stdout.trim());
}

/** Failures fail2ban has counted in a jail since it started ("Total failed"). */
async function jailFailures(host: TestHost, jail: string): Promise<number> {
  const r = await host.exec(`fail2ban-client status ${jail}`);
  return Number(/Total failed:\s*(\d+)/.exec(r.stdout)?.[1] ?? 'NaN');
}

async function learnedCount(host: TestHost): Promise<number> {
  const r = await host.exec('rspamc stat');
  return Number(/Messages learned: (\d+)/.exec(r.stdout)?.[1] ?? 'NaN');
}

/**
 * Whether Postfix's log has a line matching `pattern` (a basic regular expression). Its lines are
 * written by postlogd after the daemon that logs has moved on, so callers wait for them.
 */
async function postfixLogged(host: TestHost, pattern: string): Promise<boolean> {
  return (await host.exec(`grep -q "${pattern}" /var/log/postfix.log`)).code === 0;
}

async function rspamdLog(host: TestHost, needle: string): Promise<boolean> {
  return (await host.exec(`grep -F -q ${JSON.stringify(needle)} /var/log/rspamd/rspamd.log`)).code === 0;
}

async function moveByMessageId(client: ImapFlow, from: string, to: string, id: string): Promise<void> {
  const lock = await client.getMailboxLock(from);
  try {
    const uids = await client.search({ header: { 'message-id': id } }, { uid: true });
    assert.ok(uids && uids.length === 1, `${id} is in ${from}`);
    await client.messageMove(uids.join(','), to, { uid: true });
  } finally {
    lock.release();
  }
}

function editConfig(ws: Workspace, edits: Array<[string | RegExp, string]>): void {
  const path = join(ws.dir, 'mailrig.yaml');
  let text = readFileSync(path, 'utf8');
  for (const [from, to] of edits) {
    assert.ok(typeof from === 'string' ? text.includes(from) : from.test(text), `mailrig.yaml has ${typeof from === 'string' ? JSON.stringify(from) : from}`);
    text = text.replace(from, to);
  }
  writeFileSync(path, text);
}

/** Strings that must never appear outside the key store: key material and password material. */
function secretNeedles(ws: Workspace): Array<[string, string]> {
  const store = join(ws.dir, '.mailrig');
  const pems: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(pem|key)$/.test(e.name)) pems.push(p);
    }
  };
  walk(store);
  const needles: Array<[string, string]> = [];
  for (const p of pems) {
    // A line from the middle of the base64 body: specific to this key, and what a leak would show.
    const body = readFileSync(p, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    const line = body[Math.floor(body.length / 2)];
    if (line && line.length >= 24) needles.push([`private key ${p.slice(store.length + 1)}`, line.slice(0, 40)]);
  }
  const config = readFileSync(join(ws.dir, 'mailrig.yaml'), 'utf8');
  for (const m of config.matchAll(/password_hash: "\{[A-Z0-9-]+\}(\S+?)"/g)) {
    const digest = m[1]?.split('$').at(-1) ?? '';
    if (digest.length >= 16) needles.push(['a password hash', digest]);
  }
  const controller = readFileSync(join(store, 'secrets/rspamd-controller'), 'utf8').trim();
  needles.push(['the rspamd controller password', controller]);
  needles.push(["alice's password", ALICE_PASSWORD], ["bob's password", TEST_PASSWORD]);
  return needles;
}

/** Permission digits of a local file, e.g. "600". */
function statMode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await eventuallyValue(async () => ((await check()) ? true : undefined), timeoutMs, what);
}

async function eventuallyValue<T>(get: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(500);
  }
}
