// Calendars and contacts end to end on a provisioned host booted with systemd, Debian 12 and 13 (from
// the cached provisioned image): `dav: radicale` in mailrig.yaml installs Radicale, which listens on
// loopback only, runs as its own user and comes back at boot; a real DAV client (python3's caldav
// library) on this machine, over HTTPS through nginx, finds the collections through /.well-known/,
// creates an event and a contact with the mail password and reads them back with an app password for
// dav; another user cannot read them; a wrong password is refused and logged with the client's
// address, and fail2ban bans that address from 443 at security.max_auth_failures, not before.
// Switched off again, nginx no longer serves /dav/, mailrig's files are gone, Radicale is stopped and
// disabled, the collections stay, and the next apply has nothing to do; apply --purge then deletes the
// collections, and only them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { probe, sleep } from '../support/attack.js';
import { davClient, type DavTarget } from '../support/dav.js';
import { show, type Workspace } from '../support/e2e.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const BASE = `https://${PROVISIONED.servername}`;
const DAV = `${BASE}/dav/`;
/** The principal's collection URL, as Radicale writes it (the @ percent-encoded). */
const HOME = `${DAV}${encodeURIComponent(PROVISIONED.alice)}/`;
/** Stored items, without Radicale's caches. */
const ITEMS = "find /var/lib/radicale/collections -name .Radicale.cache -prune -o \\( -name '*.ics' -o -name '*.vcf' \\) -print | wc -l";
const MAILRIG_FILES = ['/etc/radicale/config', '/etc/nginx/mailrig-host.d/dav.conf', '/etc/fail2ban/filter.d/mailrig-dav.conf'];
/** security.max_auth_failures of the provisioned image (the default). */
const MAX_AUTH_FAILURES = 5;

/** Polls until `check` holds (an event on the host: fail2ban reading the journal), or fails after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(500);
  }
}

for (const release of releasesUnderTest()) describe(`calendars and contacts (Radicale) on a provisioned ${CONFIG_RELEASE[release]} host`, { timeout: 10 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;
  let target: DavTarget;
  let tmp: string;
  let appPassword: string;
  let written: Record<string, unknown>;
  const yamlPath = () => join(ws.dir, 'mailrig.yaml');
  const alice = (password: string) => ({ user: PROVISIONED.alice, password });

  before(async () => {
    await cleanupStaleTestHosts();
    let ca: string;
    ({ host, ws, ca } = await startProvisionedHost({ release, name: `dav-${release}` }));
    tmp = mkdtempSync(join(tmpdir(), 'mailrig-dav-'));
    writeFileSync(join(tmp, 'ca.pem'), ca);
    target = { address: host.address, servername: PROVISIONED.servername, caFile: join(tmp, 'ca.pem') };
  });
  after(async () => {
    await host?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('dav: radicale and an app password for dav: the plan installs and starts Radicale; the next apply is a no-op', async () => {
    writeFileSync(yamlPath(), `${readFileSync(yamlPath(), 'utf8').trimEnd()}\ndav: radicale\n`);
    const add = await ws.mailrig(['user', 'app-password', 'add', PROVISIONED.alice, '--name', 'phone', '--only', 'dav']);
    assert.equal(add.code, 0, show(add));
    appPassword = /^ {4}(\S+)$/m.exec(add.out)?.[1] ?? '';
    assert.ok(appPassword, add.out);

    const plan = await ws.mailrig(['plan']);
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, /radicale/);
    assert.match(plan.out, /\/etc\/radicale\/config/);
    assert.match(plan.out, /\/etc\/nginx\/mailrig-host\.d\/dav\.conf/);
    const apply = await ws.mailrig(['apply', '--yes']);
    assert.equal(apply.code, 0, show(apply));
    const again = await ws.mailrig(['apply', '--yes']);
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /no changes/, show(again));
  });

  it('Radicale listens on loopback only, runs as radicale, is enabled at boot; Dovecot listener is its alone', async () => {
    const listen = await host.exec("ss -Hltn 'sport = :5232' | awk '{print $4}'");
    assert.equal(listen.stdout.trim(), '127.0.0.1:5232', listen.stdout);
    const state = await host.exec('ps -o user= -C radicale | sort -u; systemctl is-enabled radicale; systemctl is-active radicale; stat -c "%a %U" /run/dovecot/auth-radicale');
    assert.deepEqual(state.stdout.trim().split('\n'), ['radicale', 'enabled', 'active', '600 radicale'], state.stdout + state.stderr);
  });

  it('discovery: /.well-known/caldav and /carddav redirect to /dav/, where the client finds its principal', async () => {
    const [caldav, carddav, found] = await davClient(target, [
      { op: 'get', url: `${BASE}/.well-known/caldav` },
      { op: 'get', url: `${BASE}/.well-known/carddav` },
      { op: 'read', url: DAV, ...alice(PROVISIONED.alicePassword) },
    ]);
    assert.equal(caldav?.status, 301);
    assert.equal(caldav?.location, DAV);
    assert.equal(carddav?.status, 301);
    assert.equal(carddav?.location, DAV);
    assert.equal(found?.principal, HOME);
  });

  it('an event and a contact, made with the mail password, read back with the app password', async () => {
    const [w] = await davClient(target, [{ op: 'write', url: DAV, ...alice(PROVISIONED.alicePassword) }]);
    assert.ok(w && !('error' in w), JSON.stringify(w));
    assert.equal(w.mkcol, 201, JSON.stringify(w));
    assert.equal(w.put, 201, JSON.stringify(w));
    written = w;
    const [r] = await davClient(target, [{ op: 'read', url: DAV, ...alice(appPassword) }]);
    assert.deepEqual(r, { principal: HOME, summaries: ['Planning with Bob'], card: 200, names: ['Carol Example'] });
    const files = await host.exec(`${ITEMS}; stat -c '%U' /var/lib/radicale/collections/collection-root`);
    assert.deepEqual(files.stdout.trim().split('\n'), ['2', 'radicale'], files.stdout);
  });

  it("another user cannot read them; a wrong password is refused, and Radicale's log names the client's own address", async () => {
    const bob = { user: PROVISIONED.bob, password: PROVISIONED.bobPassword };
    const steps = [String(written.calendar), String(written.card), String(written.principal)].map((url) => ({ op: 'status' as const, url, method: 'PROPFIND' as const, ...bob }));
    const results = await davClient(target, [...steps, { op: 'status', url: String(written.card), ...bob }]);
    for (const r of results) assert.ok(r.status === 403 || r.status === 404, JSON.stringify(results));
    const failures = "journalctl --sync; journalctl -u radicale -o cat | grep 'Failed login attempt' || true";
    const before = (await host.exec(failures)).stdout;
    const [wrong, status] = await davClient(target, [
      { op: 'read', url: DAV, ...alice('not-the-password') },
      { op: 'status', url: String(written.card), ...alice('not-the-password') },
    ]);
    assert.equal(wrong?.error, 'unauthorized', JSON.stringify(wrong));
    assert.equal(status?.status, 401);
    // Radicale logs the failure before it answers, with the address nginx saw (X-Forwarded-For).
    const log = (await host.exec(failures)).stdout.slice(before.length);
    assert.match(log, new RegExp(`Failed login attempt from 127\\.0\\.0\\.1 \\(forwarded for '${host.gateway.replaceAll('.', '\\.')}'\\): 'alice@example\\.com'`), log);
  });

  it('guessing: the address that fails max_auth_failures times loses HTTPS (fail2ban reads Radicale in the journal), not before, and keeps the mail ports', async () => {
    const failed = async () => Number(/Total failed:\s*(\d+)/.exec((await host.exec('fail2ban-client status mailrig-dav')).stdout)?.[1] ?? 'NaN');
    const fail = async (n: number) => {
      const steps = Array.from({ length: n }, () => ({ op: 'status' as const, url: String(written.card), ...alice('still-not-it') }));
      for (const r of await davClient(target, steps)) assert.equal(r.status, 401);
    };
    // The two failures of the test before count too.
    await eventually(async () => (await failed()) >= 2, 60_000, 'fail2ban counted the earlier failures');
    await fail(MAX_AUTH_FAILURES - 1 - (await failed()));
    await eventually(async () => (await failed()) >= MAX_AUTH_FAILURES - 1, 60_000, 'fail2ban counted every failure');
    assert.equal(await probe(host.address, 443), 'open', `${MAX_AUTH_FAILURES - 1} failures do not block yet`);
    await fail(1);
    await eventually(async () => (await probe(host.address, 443)) === 'refused', 60_000, 'the guesser is blocked on 443');
    const status = await host.exec('fail2ban-client status mailrig-dav');
    assert.match(status.stdout, new RegExp(`Banned IP list:\\s+${host.gateway.replaceAll('.', '\\.')}`), status.stdout);
    assert.equal(await probe(host.address, 993), 'open', 'the mail ports stay open');
    await host.exec(`fail2ban-client set mailrig-dav unbanip ${host.gateway}`);
    assert.equal(await probe(host.address, 443), 'open');
  });

  it('switched off: Radicale stops and is disabled, mailrig removes its files, nginx no longer serves /dav/, the data stays; the next apply is a no-op', async () => {
    writeFileSync(yamlPath(), readFileSync(yamlPath(), 'utf8').replace(/^dav: radicale\n/m, ''));
    const plan = await ws.mailrig(['plan']);
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, /^ {2}stop {4}radicale/m, show(plan));
    for (const f of MAILRIG_FILES) assert.match(plan.out, new RegExp(f.replaceAll('.', '\\.')), show(plan));
    const apply = await ws.mailrig(['apply', '--yes']);
    assert.equal(apply.code, 0, show(apply));
    const state = await host.exec(
      `pgrep -x radicale || echo stopped; systemctl is-enabled radicale; ls ${MAILRIG_FILES.join(' ')} 2>/dev/null | wc -l; ${ITEMS}; ss -Hlx | grep -q /run/dovecot/auth-radicale && echo listener || echo no-listener`,
    );
    assert.deepEqual(state.stdout.trim().split('\n'), ['stopped', 'disabled', '0', '2', 'no-listener'], state.stdout);
    const [caldav, dav] = await davClient(target, [
      { op: 'get', url: `${BASE}/.well-known/caldav` },
      { op: 'status', url: String(written.calendar), ...alice(PROVISIONED.alicePassword) },
    ]);
    assert.equal(caldav?.status, 404);
    assert.equal(dav?.status, 404);
    const again = await ws.mailrig(['apply', '--yes']);
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /no changes/, show(again));
    assert.match(again.out, /\/var\/lib\/radicale\/collections \(radicale: calendars and contacts\).*apply --purge would delete/, show(again));
  });

  it('apply --purge deletes the switched-off collections, and nothing else; the next apply is a no-op', async () => {
    const plan = await ws.mailrig(['plan', '--purge']);
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, /^Data to delete \(apply --purge; the service is off\):\n {2}- \/var\/lib\/radicale\/collections /m, show(plan));
    const purge = await ws.mailrig(['apply', '--purge', '--yes']);
    assert.equal(purge.code, 0, show(purge));
    const left = await host.exec('test -e /var/lib/radicale/collections && echo kept || echo gone; test -d /var/lib/radicale && echo parent');
    assert.deepEqual(left.stdout.trim().split('\n'), ['gone', 'parent'], left.stdout);
    const again = await ws.mailrig(['apply', '--yes']);
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /no changes/, show(again));
    assert.doesNotMatch(again.out, /--purge would delete/, show(again));
  });
});
