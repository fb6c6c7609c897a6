// Webmail (webmail: roundcube) on a provisioned host of each release, proven from outside with a real
// browser (Debian's chromium, headless, driven by playwright-core): it logs in, opens a message that
// came in over SMTP, sends one that arrives DKIM-signed in another mailbox, sets a vacation reply
// (ManageSieve) that then answers another mailbox and a sender from outside, and logs out; wrong passwords show the login error and
// get the browser's address banned by fail2ban. The HTTP answers carry the security headers and
// cookie flags; plain HTTP only redirects; a post without the request token changes nothing. Switched off
// again, mailrig's files go, nginx no longer serves /mail/, the database stays and the next apply is a
// no-op; apply --purge then deletes the database.
//
// The browser trusts exactly the host's key (Chromium's SPKI allow-list), and the node clients its
// self-signed certificate, for the name mail.example.com mapped to the host's address.
//
// Chromium watches the interfaces of its network namespace and aborts every request in flight
// (ERR_NETWORK_CHANGED) when one comes or goes, as other tests' hosts' veths do on this machine all
// the time. So the browser runs in a network namespace of its own (`unshare --net` in a wrapper that
// playwright starts as the browser): its only link, made before Chromium starts, is a veth into the
// test host's namespace, with IPv6 off so that no link-local address turns up later. Nothing Chromium
// watches ever changes; the namespace and its link go when the browser exits.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { smtpSession } from '../support/attack.js';
import { dkimResults, fetchInbox, show, submit, type Workspace } from '../support/e2e.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const NAME = PROVISIONED.servername;
const CHROMIUM = '/usr/bin/chromium';
/** The browser's address on its link into the host's namespace, and the host's end of that link. */
const BROWSER_ADDRESS = '10.232.0.2';
const HOST_SIDE = '10.232.0.1';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP(S) request to the host under the mail host's name, redirects not followed. */
function fetchRaw(opts: { tls: boolean; address: string; ca?: string; path: string; method?: string; body?: string; headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const common = {
      host: opts.address,
      path: opts.path,
      method: opts.method ?? 'GET',
      headers: { Host: NAME, ...(opts.body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}), ...opts.headers },
    };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    };
    const req = opts.tls
      ? httpsRequest({ ...common, port: 443, servername: NAME, ...(opts.ca ? { ca: opts.ca } : {}) }, onResponse)
      : httpRequest({ ...common, port: 80 }, onResponse);
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** base64 sha256 of the certificate's public key: what Chromium's SPKI allow-list takes. */
function spkiHash(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** Polls `probe` (an event on the host, not a clock) until it returns a value, at most `tries` times. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, tries = 240): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`never happened: ${what}`);
}

/**
 * Writes, into `dir`, the program playwright starts as the browser: Chromium in a new network
 * namespace whose one link (made before Chromium starts) is a veth into `netns`, routed to `address`.
 */
function isolatedChromium(dir: string, netns: string, address: string): string {
  const path = join(dir, 'chromium');
  const setup = [
    'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6',
    'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6',
    'ip link set lo up',
    `ip link add browser type veth peer name browser netns ${netns}`,
    `ip -n ${netns} addr add ${HOST_SIDE}/30 dev browser`,
    `ip -n ${netns} link set browser up`,
    `ip addr add ${BROWSER_ADDRESS}/30 dev browser`,
    'ip link set browser up',
    `ip route add ${address}/32 via ${HOST_SIDE}`,
    `exec ${CHROMIUM} "$@"`,
  ].join('\n');
  writeFileSync(path, `#!/bin/sh\nexec unshare --net -- /bin/sh -ec '${setup}\n' chromium "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

const subjects = (messages: Buffer[]) => messages.map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1] ?? '');

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`webmail (Roundcube) on a provisioned ${debian} host, in a real browser`, { timeout: 20 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let ca: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let knot: KnotServer | undefined;
    let wrapperDir: string | undefined;
    /** What the browser reported as blocked by the Content-Security-Policy, on every screen the test opens. */
    const cspViolations: string[] = [];
    const base = `https://${NAME}/mail/`;
    const imap = (user: string, password: string) => ({ host: host.address, user, password, ca, servername: NAME });
    const yamlPath = () => join(ws.dir, 'mailrig.yaml');
    /** Runs a browser step; when it fails, the error carries the end of Roundcube's and nginx's logs. */
    const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        const logs = await host.exec('tail -n 20 /var/log/roundcube/errors.log /var/log/nginx/error.log 2>&1 || true');
        throw new Error(`${what}: ${(err as Error).message}\n${logs.stdout}`);
      }
    };

    before(async () => {
      await cleanupStaleTestHosts();
      ({ host, ws, ca } = await startProvisionedHost({ release, name: `webmail-${release}` }));
      // Greylisting off, as in the security test: the outside sender below sends once, as a test does;
      // and Junk only near the reject score: that sender (a private address without reverse DNS,
      // a domain without DNS) would score as doubtful, and Sieve files Junk before any vacation rule.
      const yaml = readFileSync(yamlPath(), 'utf8')
        .replace('  greylisting: true\n', '  greylisting: false\n')
        .replace(/^ {2}add_header: \d+/m, '  add_header: 14');
      writeFileSync(yamlPath(), `${yaml.trimEnd()}\n\nwebmail: roundcube\n`);
      wrapperDir = mkdtempSync(join(tmpdir(), 'mailrig-webmail-browser-'));
      browser = await chromium.launch({
        executablePath: isolatedChromium(wrapperDir, host.netns, host.address),
        args: [`--host-resolver-rules=MAP ${NAME} ${host.address}`, `--ignore-certificate-errors-spki-list=${spkiHash(ca)}`],
      });
    });

    after(async () => {
      await browser?.close();
      if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
      await knot?.stop();
      await host?.stop();
    });

    it('apply installs Roundcube without Apache or a question, pushes the des_key masked and root:www-data 0640; the next apply is a no-op', async () => {
      const keyFile = join(ws.dir, '.mailrig/secrets/roundcube-des-key');
      assert.ok(!existsSync(keyFile), 'no des_key before the webmail is asked for');
      const plan = await ws.mailrig(['plan']);
      assert.equal(plan.code, 0, show(plan));
      const desKey = readFileSync(keyFile, 'utf8').trim();
      assert.equal(desKey.length, 24);
      assert.match(plan.out, /roundcube-core/);
      assert.match(plan.out, /\/etc\/roundcube\/config\.inc\.php/);
      assert.ok(!plan.out.includes(desKey) && !plan.err.includes(desKey), 'the plan never shows the des_key');
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      assert.ok(!apply.out.includes(desKey) && !apply.err.includes(desKey), 'apply never shows the des_key');
      const again = await ws.mailrig(['apply', '--yes']);
      assert.equal(again.code, 0, show(again));
      assert.match(again.out, /no changes|nothing to do|up to date/i, again.out);

      const apache = await host.exec("dpkg-query -W -f '${db:Status-Status} ${Package}\\n' 'apache2*' 'libapache2-mod-php*' 2>/dev/null | grep '^installed' || true");
      assert.equal(apache.stdout.trim(), '', 'no Apache package installed');
      const mode = await host.exec('stat -c "%a %U:%G" /etc/roundcube/config.inc.php');
      assert.equal(mode.stdout.trim(), '640 root:www-data');
      const key = await host.exec("grep -c des_key /etc/roundcube/config.inc.php; grep -F \"'\" /etc/roundcube/config.inc.php | grep -cF " + `'${desKey}'`);
      assert.deepEqual(key.stdout.trim().split('\n'), ['1', '1'], 'the key store\'s des_key is the one on the host');
      const idle = await host.exec("pgrep -c -f '^php-fpm: pool ' || true");
      assert.equal(idle.stdout.trim(), '0', 'no PHP worker runs before a request (pm = ondemand)');
    });

    it('plain HTTP only redirects to https; the https answers carry HSTS, CSP, frame and nosniff headers and Secure, HttpOnly, SameSite cookies', async () => {
      const plain = await fetchRaw({ tls: false, address: host.address, path: '/mail/' });
      assert.equal(plain.status, 301);
      assert.equal(plain.headers.location, `https://${NAME}/mail/`);
      assert.ok(!plain.body.includes('_pass'), 'no login form over plain HTTP');

      const login = await fetchRaw({ tls: true, address: host.address, ca, path: '/mail/' });
      assert.equal(login.status, 200, login.body.slice(0, 500));
      assert.match(login.body, /name="_pass"/);
      assert.match(String(login.headers['strict-transport-security']), /max-age=\d{7,}/);
      const csp = String(login.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /frame-ancestors 'self'/);
      assert.match(csp, /object-src 'none'/);
      assert.equal(String(login.headers['x-frame-options']).toLowerCase(), 'sameorigin');
      assert.equal(login.headers['x-content-type-options'], 'nosniff');
      assert.equal(login.headers['x-powered-by'], undefined);
      const cookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
      const session = cookies.find((c) => c.startsWith('roundcube_sessid='));
      assert.ok(session, cookies.join('\n'));
      assert.match(session, /;\s*secure/i);
      assert.match(session, /;\s*httponly/i);
      assert.match(session, /;\s*samesite=strict/i);

      // PHP source and configuration never leave the web root; only the script runs.
      for (const path of ['/mail/config/config.inc.php', '/mail/plugins/managesieve/config.inc.php', '/mail/program/include/iniset.php']) {
        const r = await fetchRaw({ tls: true, address: host.address, ca, path });
        assert.equal(r.status, 404, path);
      }
    });

    it('in the browser: logs in, opens a message that came in over SMTP, sends one that arrives DKIM-signed in another mailbox', async () => {
      await submit(
        { host: host.address, port: 587, user: PROVISIONED.bob, password: TEST_PASSWORD, ca, servername: NAME },
        { from: PROVISIONED.bob, to: PROVISIONED.alice, subject: 'Hello over SMTP', text: 'This came in through Postfix.' },
      );
      context = await browser.newContext();
      page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`);
      });
      await step('login', async () => {
        await page.goto(base);
        await page.fill('#rcmloginuser', PROVISIONED.alice);
        await page.fill('#rcmloginpwd', PROVISIONED.alicePassword);
        await Promise.all([page.waitForURL(/_task=mail/), page.click('#rcmloginsubmit')]);
      });
      await step('opening the message', async () => {
        const row = page.locator('#messagelist tr', { hasText: 'Hello over SMTP' });
        await row.first().waitFor();
        await row.first().dblclick();
        await page.waitForURL(/_action=show/);
        await page.locator('#messagebody', { hasText: 'This came in through Postfix.' }).waitFor();
      });

      await step('compose', () => page.goto(`${base}?_task=mail&_action=compose`));
      await step('compose form', () => page.locator('#compose-subject').waitFor());
      // The recipient widget writes to this field; the browser fills it as the widget would.
      await page.evaluate(`document.getElementById('_to').value = ${JSON.stringify(PROVISIONED.bob)}`);
      await page.fill('#compose-subject', 'Sent from the webmail');
      await page.fill('#composebody', 'Typed in a browser.');
      await step('sending', () =>
        Promise.all([
          page.waitForResponse((r) => r.url().includes('_task=mail') && r.request().method() === 'POST' && r.status() === 200),
          page.locator('.btn.send:visible').first().click(),
        ]),
      );
      // Roundcube goes back to the message list once the message is sent.
      await step('back to the list', () => page.waitForURL((u) => u.searchParams.get('_action') !== 'compose'));

      const inbox = await fetchInbox(imap(PROVISIONED.bob, TEST_PASSWORD), 1);
      const message = inbox.find((m) => /^Subject: Sent from the webmail$/m.test(m.toString()));
      assert.ok(message, subjects(inbox).join('\n'));
      assert.match(message.toString(), /Typed in a browser\./);
      const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', PROVISIONED.domain]);
      assert.equal(zone.code, 0, show(zone));
      knot = await startKnot({ zones: [{ origin: PROVISIONED.domain, text: zone.out }] });
      const results = await dkimResults(message, knot.address);
      assert.ok(results.length >= 1 && results.every((r) => r.endsWith(`${PROVISIONED.domain} pass`)), results.join('; '));
    });

    it('a post without the request token is refused: the setting it carries is not saved, and is with the token', async () => {
      // From the logged-in page itself (its cookies, its origin), as a forged form would post; the
      // same post with the page's token is the control that shows the setting would be saved.
      const post = async (withToken: boolean) =>
        (await page.evaluate(`(async () => {
          const body = new URLSearchParams({ _section: 'server', _logout_expunge: '1' });
          if (${withToken}) body.set('_token', rcmail.env.request_token);
          const r = await fetch('./?_task=settings&_action=save-prefs', { method: 'POST', body, credentials: 'same-origin' });
          return r.status;
        })()`)) as number;
      const saved = async () => {
        const r = await host.exec(`sqlite3 /var/lib/dbconfig-common/sqlite3/roundcube/roundcube "select preferences from users where username = '${PROVISIONED.alice}'"`);
        return r.stdout.includes('"logout_expunge";b:1');
      };
      await post(false);
      assert.equal(await saved(), false, 'a post without the token changes nothing');
      assert.equal(await post(true), 200);
      assert.equal(await saved(), true, 'the same post with the token is saved');
    });

    it('a vacation reply set in the webmail (ManageSieve) answers a sender; then logs out', async () => {
      await step('vacation page', () => page.goto(`${base}?_task=settings&_action=plugin.managesieve-vacation&_framed=1`));
      await step('vacation form', () => page.locator('#vacation_reason').waitFor());
      await page.selectOption('#vacation_status', 'on');
      await page.fill('#vacation_subject', 'Out of the office');
      await page.fill('#vacation_reason', 'Back next week, says the webmail.');
      const [saved] = await step('saving the vacation', () =>
        Promise.all([
          page.waitForResponse((r) => r.url().includes('managesieve') && r.request().method() === 'POST'),
          page.locator('.btn.submit:visible').first().click(),
        ]),
      );
      assert.equal(saved.status(), 200);
      await until('the vacation script is active in ManageSieve', async () => {
        const r = await host.exec(`grep -l 'Out of the office' /var/vmail/example.com/alice/sieve/*.sieve 2>/dev/null; readlink /var/vmail/example.com/alice/.dovecot.sieve || true`);
        return /\.sieve\n.*roundcube/s.test(r.stdout) ? r.stdout : undefined;
      }, 20);

      await submit(
        { host: host.address, port: 587, user: PROVISIONED.bob, password: TEST_PASSWORD, ca, servername: NAME },
        { from: PROVISIONED.bob, to: PROVISIONED.alice, subject: 'Are you there?', text: 'Question.' },
      );
      const replies = await until('the vacation reply in bob\'s mailbox', async () => {
        const inbox = await fetchInbox(imap(PROVISIONED.bob, TEST_PASSWORD), 1, 1);
        const found = inbox.filter((m) => /^Subject: Out of the office$/m.test(m.toString()));
        return found.length ? found : undefined;
      }, 120);
      assert.match(replies[0]?.toString() ?? '', /Back next week, says the webmail\./);
      assert.match(replies[0]?.toString() ?? '', /^Auto-Submitted: auto-replied/m);

      // A sender from outside, on port 25: the reply is addressed to it (Postfix cannot deliver to
      // outside.test, which has no DNS: its attempt in the log is the proof).
      const { c } = await smtpSession({ host: host.address, port: 25 }, 'mx.outside.test');
      assert.equal((await c.command('MAIL FROM:<stranger@outside.test>')).code, 250);
      assert.equal((await c.command(`RCPT TO:<${PROVISIONED.alice}>`)).code, 250);
      assert.equal((await c.command('DATA')).code, 354);
      const data = await c.command(
        [
          'From: Stranger <stranger@outside.test>',
          `To: ${PROVISIONED.alice}`,
          'Subject: A question from outside',
          `Date: ${new Date().toUTCString()}`,
          `Message-ID: <${Date.now()}.webmail@outside.test>`,
          '',
          'Is anyone there?',
          '.',
        ].join('\r\n'),
      );
      assert.equal(data.code, 250, data.raw);
      await c.command('QUIT');
      c.close();
      await step('the vacation reply to the outside sender', () =>
        until('a message to stranger@outside.test in the queue or tried', async () => {
          const r = await host.exec("postqueue -j | grep -F '\"stranger@outside.test\"'; grep -E 'to=<stranger@outside\\.test>.*status=' /var/log/postfix.log; true");
          return r.stdout.trim() || undefined;
        }, 120),
      ).catch(async (err: Error) => {
        const why = await host.exec("grep -E 'outside\\.test' /var/log/postfix.log | tail -n 8; doveadm mailbox status -u alice@example.com messages INBOX Junk");
        throw new Error(`${err.message}\n${why.stdout}${why.stderr}`);
      });

      await page.goto(`${base}?_task=mail`);
      await page.waitForFunction('window.rcmail && !rcmail.busy');
      await step('logout', async () => {
        await page.locator('a.logout').first().click();
        await page.locator('#rcmloginuser').waitFor();
      });
      assert.deepEqual(cspViolations, [], 'the CSP blocked nothing Roundcube needs on the screens used');
      await page.goto(`${base}?_task=mail`);
      await page.locator('#rcmloginuser').waitFor();
      assert.match(page.url(), /_task=mail/, 'the mail task asks for a login again: the session is gone');
      await context.close();
    });

    it('a wrong password shows the login error; five get the browser banned by fail2ban (then unbanned)', async () => {
      // max_auth_failures (5) wrong passwords, each answered by Roundcube and logged as a failure.
      const failures = async () => Number((await host.exec("grep -c 'Failed login for' /var/log/roundcube/userlogins.log || true")).stdout.trim());
      /** One wrong password in a browser session of its own: its answer's status, and whether the page showed the error. */
      const attempt = async (i: number) => {
        const own = await browser.newContext();
        try {
          const p = await own.newPage();
          await p.goto(base);
          await p.fill('#rcmloginuser', i === 0 ? PROVISIONED.alice : `nobody${i}@example.com`);
          await p.fill('#rcmloginpwd', 'wrong-password');
          // Dovecot slows every failed login from Roundcube's address (loopback) down a little more.
          const [answer] = await Promise.all([p.waitForResponse((r) => r.request().method() === 'POST', { timeout: 60_000 }), p.click('#rcmloginsubmit')]);
          // The fifth may already be banned while its page loads its scripts: the message is read on the others.
          const shown = i < 4 && (await p.locator('#messagestack', { hasText: /Login failed/i }).waitFor().then(() => true, () => false));
          return { status: answer.status(), shown };
        } finally {
          await own.close();
        }
      };
      // Four at once (Dovecot's penalty grows with each failure it has answered: together they wait
      // once), which bans nobody yet; then the fifth.
      const first = await Promise.all([0, 1, 2, 3].map(attempt));
      assert.equal(await failures(), 4, 'four attempts reached Roundcube');
      const fifth = await attempt(4);
      [...first, fifth].forEach((a, i) => assert.equal(a.status, 401, `attempt ${i + 1}`));
      assert.equal(await failures(), 5, 'every attempt reached Roundcube');
      assert.ok(first.some((a) => a.shown), 'the login error is shown');
      const banned = await until('fail2ban bans the browser\'s address', async () => {
        const r = await host.exec("fail2ban-client status roundcube | sed -n 's/.*Banned IP list:\\s*//p'");
        return r.stdout.trim() || undefined;
      });
      assert.equal(banned, BROWSER_ADDRESS, 'exactly the browser\'s address is banned');
      context = await browser.newContext();
      page = await context.newPage();
      const refused = await page.goto(base).then(
        () => 'answered',
        (err: Error) => /net::ERR_CONNECTION_REFUSED/.exec(err.message)?.[0] ?? err.message,
      );
      assert.equal(refused, 'net::ERR_CONNECTION_REFUSED', 'the banned browser gets no answer on 443');
      assert.equal((await host.exec(`fail2ban-client set roundcube unbanip ${BROWSER_ADDRESS}`)).code, 0);
      assert.equal((await page.goto(base))?.status(), 200, 'unbanned');
      await context.close();
    });

    it('switched off: mailrig\'s files go, PHP-FPM stops and stays off at boot, nginx no longer serves /mail/, the next apply is a no-op', async () => {
      writeFileSync(yamlPath(), readFileSync(yamlPath(), 'utf8').replace(/\n*webmail: roundcube\n/, '\n'));
      const plan = await ws.mailrig(['plan']);
      assert.match(plan.out, /^ {2}stop {4}roundcube/m, plan.out);
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      const php = `php${debian === 'debian-12' ? '8.2' : '8.4'}-fpm`;
      const fpm = await host.exec(`pgrep -x 'php-fpm[0-9.]+' || true; systemctl is-enabled ${php} || true`);
      assert.equal(fpm.stdout.trim(), 'disabled', 'no PHP-FPM process, and none at the next boot');
      const files = ['/etc/roundcube/config.inc.php', '/etc/nginx/mailrig-host.d/webmail.conf', '/etc/fail2ban/jail.d/mailrig-roundcube.conf', `/etc/php/${debian === 'debian-12' ? '8.2' : '8.4'}/fpm/pool.d/zz-mailrig-roundcube.conf`];
      const left = await host.exec(`for f in ${files.join(' ')}; do [ -e "$f" ] && echo "$f"; done; true`);
      assert.equal(left.stdout.trim(), '', 'no rendered webmail file is left');
      const db = await host.exec('test -s /var/lib/dbconfig-common/sqlite3/roundcube/roundcube && echo kept');
      assert.equal(db.stdout.trim(), 'kept', 'the database stays (no --purge)');
      const r = await fetchRaw({ tls: true, address: host.address, ca, path: '/mail/' });
      assert.equal(r.status, 404);
      const again = await ws.mailrig(['apply', '--yes']);
      assert.equal(again.code, 0, show(again));
      assert.match(again.out, /no changes|nothing to do|up to date/i, again.out);
      assert.match(again.out, /\/var\/lib\/dbconfig-common\/sqlite3\/roundcube \(roundcube: .*apply --purge would delete/, 'says what --purge would delete');
    });

    it('apply --purge deletes the database of the switched-off webmail, and nothing else; the next apply is a no-op', async () => {
      const plan = await ws.mailrig(['plan', '--purge']);
      assert.equal(plan.code, 0, show(plan));
      assert.match(plan.out, /^Data to delete \(apply --purge; the service is off\):\n {2}- \/var\/lib\/dbconfig-common\/sqlite3\/roundcube /m, plan.out);
      const mail = await host.exec('ls /var/vmail/example.com/alice/Maildir/cur | wc -l');
      const purge = await ws.mailrig(['apply', '--purge', '--yes']);
      assert.equal(purge.code, 0, show(purge));
      const left = await host.exec('test -e /var/lib/dbconfig-common/sqlite3/roundcube && echo kept || echo gone; ls /var/vmail/example.com/alice/Maildir/cur | wc -l; test -d /etc/roundcube && echo etc');
      assert.deepEqual(left.stdout.trim().split('\n'), ['gone', mail.stdout.trim(), 'etc'], 'the database goes; mail and the package\'s own files stay');
      const again = await ws.mailrig(['apply', '--yes']);
      assert.equal(again.code, 0, show(again));
      assert.match(again.out, /no changes/, again.out);
      assert.doesNotMatch(again.out, /--purge would delete/, again.out);
    });
  });
}
