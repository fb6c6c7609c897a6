// Package upgrades on a provisioned server: `apt-get install --reinstall` of rspamd, Dovecot and
// Postfix (an upgrade where the archive has a newer version: apt installs the candidate) restarts
// them through their maintainer scripts, with rspamd's Hyperscan cache gone as a new rspamd version
// leaves it, and with two configuration files mailrig renders (nginx.conf, redis.conf) changed on
// both sides, as an upgrade that ships new versions of them finds them. Nothing asks a question, the
// services come back with mailrig's configuration, mail is delivered and DKIM-signed, and
// `mailrig apply` afterwards leaves a host on which `mailrig plan` has nothing to do. Debian 12 and
// Debian 13, booted with systemd, from the cached provisioned image (provisioning is
// provision.test.ts's proof).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RSPAMD_SETTLE } from '../../src/render/rspamd.js';
import { DAEMON_UNITS, dkimResults, fetchInbox, show, submit, type Workspace } from '../support/e2e.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

const ALICE_PASSWORD = PROVISIONED.alicePassword;
/** Conffiles of their packages that mailrig renders: an upgrade shipping new versions would ask about them. */
const CONFFILES = [
  ['nginx-common', '/etc/nginx/nginx.conf'],
  ['redis-server', '/etc/redis/redis.conf'],
] as const;

for (const release of releasesUnderTest()) {
  const configRelease = CONFIG_RELEASE[release];
  describe(`package upgrades on a provisioned ${configRelease} host`, { timeout: 30 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let ca: string;
    let knot: KnotServer | undefined;

    before(async () => {
      await cleanupStaleTestHosts();
      ({ host, ws, ca } = await startProvisionedHost({ release, name: `pkg-${release}` }));
    });
    after(async () => {
      await knot?.stop();
      await host?.stop();
    });

    it('reinstalling (or upgrading) rspamd, Dovecot and Postfix keeps mail flowing and signed; apply converges', async () => {
      const installed = await host.exec("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'rspamd' 'dovecot-*' 'postfix*' 2>/dev/null | awk '$2 == \"ii\" {print $1}'");
      const packages = installed.stdout.trim().split('\n').filter(Boolean);
      for (const p of ['rspamd', 'dovecot-core', 'postfix']) assert.ok(packages.includes(p), `${p} is installed: ${packages.join(' ')}`);
      const sums = async () => (await host.exec(`md5sum ${CONFFILES.map(([, f]) => f).join(' ')}`)).stdout;
      const before = await sums();
      // dpkg records each conffile's checksum as shipped: a different one makes this run see a package
      // that ships a new version of a file the host changed, the case in which dpkg asks.
      const shipped = CONFFILES.map(([, f]) => `-e 's# ${f} [0-9a-f]\\{32\\}# ${f} 00000000000000000000000000000000#'`).join(' ');
      assert.equal((await host.exec(`sed -i ${shipped} /var/lib/dpkg/status`)).code, 0);
      // A new rspamd version finds its compiled Hyperscan databases stale and builds them again.
      assert.equal((await host.exec('rm -f /var/lib/rspamd/*.hs /var/lib/rspamd/*.hsmp /var/lib/rspamd/*.hsmc /var/lib/rspamd/*.unser')).code, 0);

      // As an operator or unattended-upgrades runs it: no terminal to answer a question on.
      const apt = await host.exec(
        `export DEBIAN_FRONTEND=noninteractive; apt-get -q update && apt-get -q -y install --reinstall ${[...packages, ...CONFFILES.map(([p]) => p)].join(' ')}`,
        { timeoutMs: 15 * 60_000, stdin: '' },
      );
      assert.equal(apt.code, 0, `${apt.stdout.slice(-3000)}\n${apt.stderr.slice(-3000)}`);
      assert.doesNotMatch(apt.stdout, /conffile prompt/);
      assert.equal((await host.exec('dpkg --audit')).stdout, '', 'every package is configured');
      assert.equal(await sums(), before, "mailrig's versions of the configuration files stayed");

      // rspamd's new version compiled its Hyperscan cache: mailrig's settle unit, which the restart
      // started, restarts it once more to give the compiler's memory back. Joining that job (as apply
      // does) waits for the host to settle instead of reading it half-way.
      assert.equal((await host.exec(`systemctl start ${RSPAMD_SETTLE.unit}.service`, { timeoutMs: 11 * 60_000 })).code, 0);
      const state = await host.exec(`systemctl is-system-running; systemctl --failed --plain --no-legend; systemctl is-active ${DAEMON_UNITS.join(' ')}`);
      assert.equal(state.stdout, `running\n${DAEMON_UNITS.map(() => 'active\n').join('')}`, state.stdout);
      // rspamd came back with mailrig's drop-in, whose warm-up rebuilt the cache before the main process started.
      const dropIn = await host.exec('systemctl show -p DropInPaths --value rspamd; ls /var/lib/rspamd | grep -c "\\.hsmp$"');
      assert.match(dropIn.stdout, /^\/etc\/systemd\/system\/rspamd\.service\.d\/mailrig\.conf\n[1-9]\d*\n$/, dropIn.stdout);

      await submit(
        { host: host.address, port: 587, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' },
        { from: 'alice@example.com', to: 'bob@example.com', subject: 'after the upgrade', text: 'Still delivered and signed.' },
      );
      const [message] = await fetchInbox({ host: host.address, user: 'bob@example.com', password: TEST_PASSWORD, ca, servername: 'mail.example.com' }, 1);
      assert.ok(message, 'the message arrived');
      assert.match(message.toString(), /^Subject: after the upgrade$/m);
      const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
      assert.equal(zone.code, 0, show(zone));
      knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.out }] });
      const results = await dkimResults(message, knot.address);
      assert.equal(results.length, 2, `two signatures (RSA and Ed25519): ${results.join('; ')}`);
      assert.ok(results.every((r) => r.endsWith('example.com pass')), results.join('; '));

      // Whatever the maintainer scripts changed, apply puts mailrig's configuration back; then nothing is left to do.
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      const plan = await ws.mailrig(['plan']);
      assert.equal(plan.code, 0, show(plan));
      assert.match(plan.out, /No changes/);
      assert.equal((await host.exec(`systemctl is-active ${DAEMON_UNITS.join(' ')}`)).stdout, DAEMON_UNITS.map(() => 'active\n').join(''));
    });
  });
}
