// Relays and the port-25 check, proven on a provisioned host of each release with a second host as
// the relay: a Postfix that takes mail on 587 only after a login, over TLS with its own certificate
// (mailrig's submission port on another host from the same image, given a certificate for the
// relay's name). The mailrig host reaches it by a name pinned in /etc/hosts and trusts its
// certificate through relay.ca_file.
//
// - an apply that changes rspamd's local_addrs (the host's own address, as after a move) reloads
//   rspamd, no restart, and the running rspamd then signs mail from that address as local;
// - port 25 dropped by a firewall rule in the mailrig host's namespace: check and setup say blocked
//   and show the relay section to add (setup's judgement is check's); without the rule: ok;
// - a default relay: mail to an outside domain goes through it (its log names the login) and no
//   other way;
// - a relay for one recipient domain: only that domain's mail takes it;
// - a wrong relay password: the mail is deferred with "SASL authentication failed", and check names it.
// Every wait is for a log line or a queue state, never a fixed time.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import nodemailer from 'nodemailer';
import { checkResults, resultById, show, type Workspace } from '../support/e2e.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const RELAY_NAME = 'relay.mailrig.test';
/** The login at the relay: bob, the relay host's own mailbox, may send as bob@example.com there. */
const RELAY_LOGIN = PROVISIONED.bob;

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`relays and the port-25 check on a provisioned ${debian} host`, { timeout: 30 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let ca: string;
    let relay: TestHost;
    const started = Date.now();
    const yamlPath = () => join(ws.dir, 'mailrig.yaml');
    const baseYaml = { text: '' };

    /** Sends one message as bob through the mailrig host's submission port. */
    const send = async (to: string, subject: string) => {
      const transport = nodemailer.createTransport({
        host: host.address,
        port: 587,
        requireTLS: true,
        auth: { user: PROVISIONED.bob, pass: PROVISIONED.bobPassword },
        tls: { ca, servername: PROVISIONED.servername },
      });
      try {
        const info = await transport.sendMail({ from: PROVISIONED.bob, to, subject, text: `${subject}\n` });
        const id = /queued as ([0-9A-Za-z]+)/.exec(String(info.response))?.[1];
        assert.ok(id, String(info.response));
        return id;
      } finally {
        transport.close();
      }
    };
    /** The mailrig host's log lines for queue id `id`, once one of them matches `done`. */
    const logOf = async (target: TestHost, id: string, done: RegExp) => {
      for (let i = 0; i < 480; i++) {
        const lines = (await target.exec(`grep -F ' ${id}: ' /var/log/postfix.log || true`)).stdout;
        if (done.test(lines)) return lines;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.fail(`${target.name}: no line matching ${done} for ${id} within 2 minutes:\n${(await target.exec('tail -n 40 /var/log/postfix.log')).stdout}`);
    };
    /** Writes the relay section, stores the relay password when given (it names a relay of the file), applies. */
    const configure = async (relaySection: string, password?: string) => {
      writeFileSync(yamlPath(), `${baseYaml.text}${relaySection}`);
      if (password !== undefined) await setPassword(password);
      const r = await ws.mailrig(['apply', '--yes']);
      assert.equal(r.code, 0, show(r));
      return r;
    };
    async function setPassword(password: string) {
      const r = await ws.mailrig(['relay', 'password', RELAY_NAME, '--password-stdin'], { input: `${password}\n` });
      assert.equal(r.code, 0, show(r));
      assert.doesNotMatch(r.out + r.err, new RegExp(password));
    }
    const check = async () => {
      // No resolver answers here (DNS is check.test.ts's subject): the DNS checks fail fast.
      const r = await ws.mailrig(['check', '--json', '--resolver', '127.0.0.1:9', '--outbound-target', `${relay.address}:25`], { hostFlags: true });
      return checkResults(r.out);
    };

    before(async () => {
      await cleanupStaleTestHosts();
      const [m, r] = await Promise.all([
        startProvisionedHost({ release, name: `relay-m-${release}` }),
        startProvisionedHost({ release, name: `relay-r-${release}` }),
      ]);
      ({ host, ws, ca } = m);
      relay = r.host;
      process.stderr.write(`# ${debian}: two hosts from the image in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      // The relay: a certificate for its name on its own Postfix (submission on 587 needs a login).
      const made = await relay.exec(
        `set -e; cd /etc/postfix; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=${RELAY_NAME} ` +
          `-addext subjectAltName=DNS:${RELAY_NAME} -keyout relay-test.key -out relay-test.crt 2>/dev/null; chmod 600 relay-test.key; ` +
          `postconf -e 'smtpd_tls_chain_files = /etc/postfix/relay-test.key, /etc/postfix/relay-test.crt'; postfix reload >/dev/null 2>&1; cat relay-test.crt`,
      );
      assert.equal(made.code, 0, made.stderr);
      writeFileSync(join(ws.dir, 'relay-ca.pem'), made.stdout);
      // The mailrig host finds the relay by name; Postfix's chroot gets the same /etc/hosts.
      const pinned = await host.exec(`echo '${relay.address} ${RELAY_NAME}' >> /etc/hosts && cp /etc/hosts /var/spool/postfix/etc/hosts`);
      assert.equal(pinned.code, 0, pinned.stderr);
      baseYaml.text = readFileSync(yamlPath(), 'utf8').replace(/\n*$/, '\n');
    });
    after(async () => {
      await Promise.all([host?.stop(), relay?.stop()]);
    });

    it('a changed own address reloads rspamd (no restart), and the running rspamd then counts it as local', async (t) => {
      // Mail from a local address is DKIM-signed without a login (sign_local); from anywhere else it is not.
      const signed = async (ip: string) => {
        const r = await host.exec(`printf 'From: ${PROVISIONED.alice}\\nTo: someone@elsewhere.test\\nSubject: local?\\n\\nbody\\n' | rspamc -h 127.0.0.1:11334 -i ${ip}`);
        assert.equal(r.code, 0, r.stderr);
        return /DKIM_SIGNED/.test(r.stdout);
      };
      // As on a server moved from another address: rspamd running with that address in local_addrs.
      const options = '/etc/rspamd/override.d/options.inc';
      let t0 = Date.now();
      const stale = await host.exec(
        `sed -i 's/"${host.address}"/"192.0.2.1"/' ${options} && grep -q '"192.0.2.1"' ${options} && systemctl restart rspamd </dev/null >/dev/null 2>&1 && ` +
          'for i in $(seq 1 120); do rspamc stat >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1',
      );
      assert.equal(stale.code, 0, stale.stderr);
      t.diagnostic(`rspamd restarted and answering in ${Date.now() - t0} ms`);
      assert.equal(await signed(host.address), false, `${host.address} is not local yet`);
      t0 = Date.now();
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      t.diagnostic(`apply that rewrote ${options}: ${Date.now() - t0} ms`);
      assert.match(apply.out, new RegExp(`~ ${options}`), apply.out);
      assert.match(apply.out, /… reload rspamd\b/, apply.out);
      assert.doesNotMatch(apply.out, /… (re)?start rspamd\b/, apply.out);
      assert.equal(await signed(host.address), true, `mail from ${host.address} is signed as local after the reload`);
      assert.equal(await signed(host.gateway), false, `mail from ${host.gateway} is not local`);
    });

    it('port 25: dropped by a firewall, check and setup say blocked and show the relay to add; open, check says ok', async () => {
      const rule = ['-p', 'tcp', '--dport', '25', '-d', relay.address, '-j', 'DROP'];
      await execa('ip', ['netns', 'exec', host.netns, 'iptables', '-I', 'OUTPUT', ...rule]);
      try {
        const t0 = Date.now();
        const blocked = resultById(await check(), 'deliverability.outbound-25');
        process.stderr.write(`# ${debian}: check with port 25 blocked in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        assert.equal(blocked.status, 'fail', JSON.stringify(blocked));
        assert.match(blocked.message, /^blocked: outbound port 25 is closed/);
        assert.match(blocked.fix ?? '', /relay: \{ default: \{ host: smtp\.your-relay\.example, port: 587, username: your-login \} \}/);
        // setup runs the same test before it finishes: the server is provisioned, and the block is said.
        const setup = await ws.mailrig(['setup', '--yes', '--outbound-target', `${relay.address}:25`]);
        assert.equal(setup.code, 0, show(setup));
        assert.match(setup.out, /\nOutbound port 25: FAIL: blocked: outbound port 25 is closed \(no answer from [^)]*\)[^\n]*\n {2}fix: [^\n]*relay: \{ default: \{ host: smtp\.your-relay\.example/);
      } finally {
        await execa('ip', ['netns', 'exec', host.netns, 'iptables', '-D', 'OUTPUT', ...rule]);
      }
      const open = resultById(await check(), 'deliverability.outbound-25');
      assert.equal(open.status, 'ok', JSON.stringify(open));

    });

    it('a default relay: mail to an outside domain goes through it, logged in, and no other way', async () => {
      const r = await configure(
        `relay:\n  ca_file: relay-ca.pem\n  default:\n    host: ${RELAY_NAME}\n    port: 587\n    username: ${RELAY_LOGIN}\n`,
        PROVISIONED.bobPassword,
      );
      assert.match(r.out, /libsasl2-modules/, 'the SASL mechanisms get installed');
      const mode = await host.exec('stat -c "%a %U:%G" /etc/postfix/relay_passwords /etc/postfix/relay_passwords.lmdb');
      assert.deepEqual(mode.stdout.trim().split('\n'), ['600 root:root', '600 root:root']);
      const plan = await ws.mailrig(['plan']);
      assert.match(plan.out, new RegExp(`mail from example\\.com: via ${RELAY_NAME.replace(/\./g, '\\.')}:587 \\(login bob@example\\.com\\) \\(default relay\\)`), show(plan));

      const id = await send('someone@elsewhere.test', 'through the default relay');
      const lines = await logOf(host, id, /status=(sent|deferred|bounced)/);
      assert.match(lines, new RegExp(`postfix/smarthost/smtp\\[\\d+\\]: ${id}: to=<someone@elsewhere\\.test>, relay=${RELAY_NAME.replace(/\./g, '\\.')}\\[${relay.address.replace(/\./g, '\\.')}\\]:587,.*status=sent`), lines);
      assert.doesNotMatch(lines, /postfix\/smtp\[/, 'never straight to the recipient');
      const queuedThere = /status=sent \(250 [^)]*queued as ([0-9A-Za-z]+)\)/.exec(lines)?.[1];
      assert.ok(queuedThere, lines);
      const there = await logOf(relay, queuedThere, /sasl_username=/);
      assert.match(there, new RegExp(`${queuedThere}: client=.*sasl_method=\\w+, sasl_username=${RELAY_LOGIN.replace(/\./g, '\\.')}`));
      const rs = await check();
      assert.equal(resultById(rs, 'deliverability.relay-login.[relay.mailrig.test]:587').status, 'ok');
      assert.match(resultById(rs, 'deliverability.route.from:example.com').message, /via relay\.mailrig\.test:587/);
    });

    it('a relay for one recipient domain: only that domain takes it', async () => {
      await configure(
        `relay:\n  ca_file: relay-ca.pem\n  recipient_domains:\n    elsewhere.test:\n      host: ${RELAY_NAME}\n      port: 587\n      username: ${RELAY_LOGIN}\n`,
      );
      const via = await send('another@elsewhere.test', 'to the relayed domain');
      const viaLines = await logOf(host, via, /status=(sent|deferred|bounced)/);
      assert.match(viaLines, /postfix\/smarthost\/smtp\[\d+\]: \w+: to=<another@elsewhere\.test>, relay=relay\.mailrig\.test\[.*status=sent/, viaLines);
      const direct = await send('someone@direct.test', 'to any other domain');
      const directLines = await logOf(host, direct, /status=(sent|deferred|bounced)/);
      assert.doesNotMatch(directLines, /smarthost/, directLines);
      assert.match(directLines, /postfix\/smtp\[\d+\]: \w+: to=<someone@direct\.test>/, directLines);
      await host.exec(`postsuper -d ${direct} >/dev/null 2>&1 || true`);
    });

    it('a wrong relay password: deferred with the cause logged, and check names it', async () => {
      await configure(
        `relay:\n  ca_file: relay-ca.pem\n  default:\n    host: ${RELAY_NAME}\n    port: 587\n    username: ${RELAY_LOGIN}\n`,
        'not-the-password',
      );
      const id = await send('third@elsewhere.test', 'with a wrong relay password');
      const lines = await logOf(host, id, /status=deferred/);
      assert.match(lines, /postfix\/smarthost\/smtp\[\d+\]: \w+: to=<third@elsewhere\.test>, relay=relay\.mailrig\.test\[.*status=deferred \(SASL authentication failed; server relay\.mailrig\.test\[/, lines);
      // Each check logs in at the relay once more, and each failed login there costs more (Dovecot's
      // failure delay and per-address penalty): one check serves both assertions.
      const results = await check();
      const login = resultById(results, 'deliverability.relay-login.[relay.mailrig.test]:587');
      assert.equal(login.status, 'fail', JSON.stringify(login));
      assert.match(login.message, /the relay rejects the login bob@example\.com: SASL authentication failed/);
      assert.match(login.fix ?? '', /mailrig relay password relay\.mailrig\.test/);
      const all = `${JSON.stringify(results)}${readFileSync(yamlPath(), 'utf8')}`;
      assert.doesNotMatch(all, new RegExp(TEST_PASSWORD), 'the password is never shown');
      await host.exec(`postsuper -d ALL deferred >/dev/null 2>&1 || true`);
      process.stderr.write(`# ${debian}: relay.test.ts in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  });
}
