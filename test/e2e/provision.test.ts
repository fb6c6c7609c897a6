// mailrig's main job, end to end: `mailrig setup` provisions a fresh Debian host over SSH, then real
// clients prove it from outside the host — submission on 587 and 465 with AUTH, delivery, IMAP on 993,
// DKIM signatures that verify against the records `mailrig dns` printed (served by knotd) — and a
// second apply changes and restarts nothing. For Debian 12 and Debian 13, booted with systemd as a VPS
// is: the system is `running` afterwards, every service is enabled, reloads go through systemctl.
// One case provisions a host without systemd, where services start from init scripts and cron runs
// the renewal agent.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MTA_STS_ON_DEMAND_UNIT, MTA_STS_UNIT, STS_FRONT_UNIT } from '../../src/render/mta-sts.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { DAEMON_PROCESSES, DAEMON_UNITS, dkimResults, fetchInbox, show, sshAccess, submit, workspace, type Workspace } from '../support/e2e.js';
import { TEST_HASH, TEST_PASSWORD } from '../support/fixtures.js';
import { testBedResolver } from '../support/provisioned.js';
import { cleanupStaleTestHosts, startTestHost, type TestHost, type TestHostRelease } from '../support/testhost.js';

const RELEASES: Record<string, [TestHostRelease, 'debian-12' | 'debian-13']> = { bookworm: ['bookworm', 'debian-12'], trixie: ['trixie', 'debian-13'] };
// Both by default; MAILRIG_PROVISION_RELEASES=trixie picks one, and leaves out the host without systemd
// unless bookworm is among them.
const chosen = (process.env.MAILRIG_PROVISION_RELEASES ?? 'bookworm,trixie').split(',').map((r) => r.trim()).filter(Boolean);

const ALICE_PASSWORD = 'Alice-e2e-password-2026';

/** The pids of the daemons' main processes on the host. */
async function daemonPids(host: TestHost): Promise<string> {
  const r = await host.exec(`for p in ${DAEMON_PROCESSES.join(' ')}; do printf "%s=%s " $p "$(pgrep -o -x $p)"; done`);
  return r.stdout.trim();
}

for (const [release, configRelease] of chosen.map((r) => RELEASES[r] ?? assert.fail(`MAILRIG_PROVISION_RELEASES: unknown release ${r}`))) {
  describe(`provisioning a fresh ${configRelease} host over SSH`, { timeout: 20 * 60_000 }, () => {
    let host: TestHost;
    let ws: Workspace;
    let knot: KnotServer | undefined;
    let ca: string;

    before(async () => {
      await cleanupStaleTestHosts();
      host = await startTestHost({ release, name: `prov-${release}` });
      ws = workspace(host);
    });
    after(async () => {
      await knot?.stop();
      await host?.stop();
    });

    it('a broken config is caught before anything reaches the host', async () => {
      const init = await ws.mailrig(
        // No --release: init asks the host, which is reachable already.
        ['init', '--non-interactive', '--domain', 'example.com', '--ipv4', host.address, '--allow-private-addresses', '--ssh', `root@${host.address}`,
          '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed', '--accept-new-host-key',
          '--identity', host.keyFile, '--known-hosts', host.knownHostsFile],
        { input: `${ALICE_PASSWORD}\n` },
      );
      assert.equal(init.code, 0, show(init));
      assert.match(init.err, new RegExp(`release ${configRelease}`));
      const path = join(ws.dir, 'mailrig.yaml');
      const good = readFileSync(path, 'utf8');
      assert.match(good, new RegExp(`release: ${configRelease}`));
      writeFileSync(path, good.replace(/password_hash: ".*"/, 'password_hash: "{PLAIN}hunter2"'));
      const r = await ws.mailrig(['apply', '--yes', '--accept-new-host-key']);
      assert.equal(r.code, 2, show(r));
      assert.match(r.err, /password_hash: is not a password hash/);
      const dpkg = await host.exec('dpkg-query -W postfix 2>/dev/null; ls /etc/postfix 2>/dev/null | wc -l');
      assert.equal(dpkg.stdout.trim(), '0', 'nothing was installed or written');
      // A second mailbox, with the test suite's known hash, to deliver to.
      // The test bed's resolver for the host's unbound (provisioned.ts says why).
      writeFileSync(path, testBedResolver(good.replace('    aliases:', `      bob:\n        password_hash: "${TEST_HASH}"\n    aliases:`)));
    });

    it('setup provisions the host: packages, files, services, then prints the DNS records; SSH access is left alone', async () => {
      const sshBefore = await sshAccess(host);
      const r = await ws.mailrig(['setup', '--non-interactive', '--yes', '--accept-new-host-key']);
      assert.equal(r.code, 0, show(r));
      assert.equal(await sshAccess(host), sshBefore, 'sshd_config and authorized_keys are as they were before setup');
      assert.match(r.out, /applied \(/);
      assert.match(r.out, /DNS records to publish/);
      assert.match(r.out, /_domainkey/);
      ca = readFileSync(join(ws.dir, '.mailrig/tls/selfsigned.crt'), 'utf8');
      const state = await host.exec('systemctl is-system-running; systemctl --failed --plain --no-legend');
      assert.equal(state.stdout, 'running\n', `no failed unit after provisioning:\n${state.stdout}`);
      // Every daemon comes up at boot: its unit enabled, or for the MTA-STS pair (on demand) its
      // socket unit; mta-sts-daemon's own unit is not, its proxy starts it.
      const atBoot = await host.exec(`for u in ${DAEMON_UNITS.join(' ')}; do echo "$u $(systemctl is-enabled "$u")"; done; systemctl is-enabled ${MTA_STS_UNIT}.service`);
      assert.deepEqual(atBoot.stdout.trim().split('\n'), [...DAEMON_UNITS.map((u) => `${u} enabled`), 'disabled'], atBoot.stdout);
      assert.ok(DAEMON_UNITS.includes(`${STS_FRONT_UNIT}.socket`) && DAEMON_UNITS.includes(`${MTA_STS_ON_DEMAND_UNIT}.socket`), DAEMON_UNITS.join(' '));
      const active = await host.exec(`systemctl is-active ${DAEMON_UNITS.join(' ')}`);
      assert.deepEqual(active.stdout.trim().split('\n'), DAEMON_UNITS.map(() => 'active'), `${DAEMON_UNITS.join(' ')}:\n${active.stdout}`);
    });

    it('submission on 587 (STARTTLS) and 465 (TLS) with AUTH delivers to another mailbox, fetched over IMAPS', async () => {
      const common = { host: host.address, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' };
      for (const port of [587, 465] as const) {
        const sent = await submit({ ...common, port }, { from: 'alice@example.com', to: 'bob@example.com', subject: `via ${port}`, text: `Hello over ${port}.` });
        assert.deepEqual(sent.rejected, []);
      }
      const inbox = await fetchInbox({ host: host.address, user: 'bob@example.com', password: TEST_PASSWORD, ca, servername: 'mail.example.com' }, 2);
      assert.equal(inbox.length, 2, 'both messages arrived');
      const subjects = inbox.map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1]).sort();
      assert.deepEqual(subjects, ['via 465', 'via 587']);

      // The signatures verify against the zone mailrig printed, served by a real DNS server.
      const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
      assert.equal(zone.code, 0, show(zone));
      knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.out }] });
      for (const message of inbox) {
        const results = await dkimResults(message, knot.address);
        assert.equal(results.length, 2, `two signatures (RSA and Ed25519): ${results.join('; ')}`);
        assert.ok(results.every((r) => r.endsWith('example.com pass')), results.join('; '));
        assert.ok(results.some((r) => r.startsWith('r')) && results.some((r) => r.startsWith('e')), results.join('; '));
      }
    });

    it('mail to an unknown local user is rejected during SMTP', async () => {
      await assert.rejects(
        submit(
          { host: host.address, port: 587, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' },
          { from: 'alice@example.com', to: 'nobody@example.com', subject: 'x', text: 'x' },
        ),
        (e: Error & { responseCode?: number }) => e.responseCode === 550 || /550/.test(e.message),
      );
    });

    it('a second apply reports no changes and restarts nothing', async () => {
      const pids = await daemonPids(host);
      assert.doesNotMatch(pids, /=( |$)/, `every daemon runs: ${pids}`);
      const r = await ws.mailrig(['apply', '--yes']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.out, /no changes/);
      assert.equal(r.out.trim().split('\n').length, 1, `one line: ${r.out}`);
      assert.equal(await daemonPids(host), pids);
      const json = await ws.mailrig(['plan', '--json']);
      assert.equal(json.code, 0, show(json));
      assert.deepEqual(JSON.parse(json.out), {
        host: `root@${host.address}`,
        system: JSON.parse(json.out).system,
        changes: false,
        install: [],
        files: [],
        maps: [],
        remove: [],
        purge: [],
        kept: [],
        services: [],
        operations: [],
        // No relay in this config: mail goes straight to each recipient's MX.
        routes: ["mail from example.com: directly to the recipients' MX hosts (port 25)"],
      });
    });

    it('plan after a config edit shows exactly that edit, and apply reloads only Postfix', async () => {
      const path = join(ws.dir, 'mailrig.yaml');
      writeFileSync(path, readFileSync(path, 'utf8').replace('message_size_limit: 50M', 'message_size_limit: 40M'));
      const plan = await ws.mailrig(['plan']);
      assert.equal(plan.code, 0, show(plan));
      assert.match(plan.out, /~ \/etc\/postfix\/main\.cf/);
      assert.match(plan.out, /-message_size_limit = 52428800\n\s+\+message_size_limit = 41943040/);
      const changedFiles = plan.out.split('\n').filter((l) => /^\s+[+~] \//.test(l));
      assert.equal(changedFiles.length, 1, plan.out);
      assert.match(plan.out, /reload\s+postfix/);
      const before = await daemonPids(host);
      const since = (await host.exec('date +%s')).stdout.trim();
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      assert.equal(await daemonPids(host), before, 'a reload keeps every main process');
      // systemd did the reload (the unit's ExecReload, under its sandboxing), not a script behind its back.
      const journal = await host.exec(`journalctl --no-pager -o cat --since @${since} _PID=1`);
      assert.match(journal.stdout, /Reload(ing|ed) .*[Pp]ostfix/, journal.stdout);
      assert.doesNotMatch(journal.stdout, /(Stopping|Starting) .*(Postfix|Dovecot|rspamd|Redis|nginx)/i, journal.stdout);
      const size = await host.exec('postconf -h message_size_limit');
      assert.equal(size.stdout.trim(), '41943040');
    });

    it('a user added from the command line can log in after an apply that restarts nothing', async () => {
      const add = await ws.mailrig(['user', 'add', 'carol@example.com', '--password-stdin'], { input: 'Carol-e2e-password-2026\n' });
      assert.equal(add.code, 0, show(add));
      const pids = await daemonPids(host);
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      // Only what reads the account maps may be reloaded (rspamd's sender table); nothing restarts.
      assert.doesNotMatch(apply.out, /\b(restart|start)\s+\w+/, `no restart: ${apply.out}`);
      assert.equal(await daemonPids(host), pids);
      const inbox = await fetchInbox({ host: host.address, user: 'carol@example.com', password: 'Carol-e2e-password-2026', ca, servername: 'mail.example.com' }, 0, 1000);
      assert.deepEqual(inbox, [], 'carol logs in over IMAPS and has an empty INBOX');
    });

    // One release is enough for the rotation: nothing in it differs between them.
    if (configRelease === 'debian-12') it('a staged DKIM rotation ends with mail signed by the new selectors only, verifying against the new records', async () => {
      const published = async () => {
        const r = await ws.mailrig(['dns', '--format', 'json']);
        const records = JSON.parse(r.out) as Array<{ name: string }>;
        return records.filter((x) => x.name.endsWith('._domainkey.example.com')).map((x) => x.name.split('.')[0] ?? '').sort();
      };
      const old = await published();
      assert.equal(old.length, 2);
      const start = await ws.mailrig(['dkim', 'rotate', 'start', 'example.com']);
      assert.equal(start.code, 0, show(start));
      const early = await ws.mailrig(['dkim', 'rotate', 'switch', 'example.com', '--resolver', knot!.address]);
      assert.equal(early.code, 1, `switch refuses while DNS lacks the new keys: ${show(early)}`);
      // Publish: the zone now carries the old and the new selectors.
      const zone = await ws.mailrig(['dns', '--format', 'bind', '--zone', 'example.com']);
      await knot!.stop();
      knot = await startKnot({ zones: [{ origin: 'example.com', text: zone.out }] });
      const sw = await ws.mailrig(['dkim', 'rotate', 'switch', 'example.com', '--resolver', knot.address]);
      assert.equal(sw.code, 0, show(sw));
      const apply = await ws.mailrig(['apply', '--yes']);
      assert.equal(apply.code, 0, show(apply));
      await submit(
        { host: host.address, port: 465, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' },
        { from: 'alice@example.com', to: 'carol@example.com', subject: 'after rotation', text: 'Signed with the new keys.' },
      );
      const [message] = await fetchInbox({ host: host.address, user: 'carol@example.com', password: 'Carol-e2e-password-2026', ca, servername: 'mail.example.com' }, 1);
      assert.ok(message);
      const results = await dkimResults(message, knot.address);
      assert.equal(results.length, 2, results.join('; '));
      assert.ok(results.every((r) => r.endsWith('example.com pass')), results.join('; '));
      const signedWith = results.map((r) => r.split(' ')[0] ?? '').sort();
      assert.ok(signedWith.every((sel) => !old.includes(sel)), `signed with new selectors only: ${signedWith.join(', ')}`);
      const finish = await ws.mailrig(['dkim', 'rotate', 'finish', 'example.com', '--force']);
      assert.equal(finish.code, 0, show(finish));
      assert.deepEqual(await published(), signedWith, 'only the new selectors are published after finish');
    });

    it('user rm keeps the stored mail; with --purge, apply deletes it', async () => {
      const maildir = '/var/vmail/example.com/bob';
      assert.equal((await host.exec(`test -d ${maildir}/Maildir`)).code, 0, 'bob has mail');
      const rm = await ws.mailrig(['user', 'rm', 'bob@example.com']);
      assert.equal(rm.code, 0, show(rm));
      const kept = await ws.mailrig(['apply', '--yes']);
      assert.equal(kept.code, 0, show(kept));
      assert.equal((await host.exec(`test -d ${maildir}/Maildir`)).code, 0, 'the mail stays without --purge');
      const purge = await ws.mailrig(['user', 'rm', 'bob@example.com', '--purge', '--yes']);
      assert.equal(purge.code, 0, show(purge));
      const plan = await ws.mailrig(['plan']);
      assert.match(plan.out, new RegExp(`Stored mail to delete \\(user rm --purge\\): ${maildir}`));
      const gone = await ws.mailrig(['apply', '--yes']);
      assert.equal(gone.code, 0, show(gone));
      assert.notEqual((await host.exec(`test -d ${maildir}`)).code, 0, 'purged');
      const again = await ws.mailrig(['apply', '--yes']);
      assert.match(again.out, /no changes/, 'the purge is done once');
    });
  });
}

// Hosts without systemd are supported too: one case proves that path, the cheapest that covers it.
// ACME with an unreachable CA keeps the self-signed certificate and installs the renewal agent, whose
// schedule is then a cron entry: cron is installed and started, the daemons by their init scripts.
describe('provisioning a debian-12 host without systemd (init scripts and cron)', { timeout: 15 * 60_000, skip: !chosen.includes('bookworm') }, () => {
  let host: TestHost;
  before(async () => {
    await cleanupStaleTestHosts();
    host = await startTestHost({ release: 'bookworm', name: 'prov-sysv', init: 'sshd' });
  });
  after(async () => {
    await host?.stop();
  });

  it('setup provisions it: daemons from init scripts, the renewal agent from cron, mail delivered', async () => {
    const ws = workspace(host);
    const init = await ws.mailrig(
      ['init', '--non-interactive', '--domain', 'example.com', '--ipv4', host.address, '--allow-private-addresses', '--ssh', `root@${host.address}`,
        '--release', 'debian-12', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'https://ca.invalid/dir',
        '--admin-email', 'admin@example.com'],
      { input: `${ALICE_PASSWORD}\n` },
    );
    assert.equal(init.code, 0, show(init));
    const yaml = join(ws.dir, 'mailrig.yaml');
    writeFileSync(yaml, testBedResolver(readFileSync(yaml, 'utf8')));
    const r = await ws.mailrig(['setup', '--non-interactive', '--yes', '--accept-new-host-key']);
    assert.equal(r.code, 0, show(r));
    // The plan names the cron entry and that cron is made to run; the host below shows both done.
    assert.match(r.out, /\+ \/etc\/cron\.d\/mailrig-agent /, show(r));
    assert.match(r.out, /start cron for mailrig-agent/, show(r));
    const pids = await daemonPids(host);
    assert.doesNotMatch(pids, /=( |$)/, `every daemon runs: ${pids}`);
    const cron = await host.exec('test -d /run/systemd/system && echo systemd; pgrep -x cron >/dev/null && echo cron; test -f /etc/cron.d/mailrig-agent && echo agent');
    assert.equal(cron.stdout, 'cron\nagent\n');
    const ca = readFileSync(join(ws.dir, '.mailrig/tls/selfsigned.crt'), 'utf8');
    const common = { host: host.address, user: 'alice@example.com', password: ALICE_PASSWORD, ca, servername: 'mail.example.com' };
    await submit({ ...common, port: 587 }, { from: 'alice@example.com', to: 'alice@example.com', subject: 'no systemd', text: 'Delivered all the same.' });
    const inbox = await fetchInbox(common, 1);
    assert.ok(inbox.some((m) => /Subject: no systemd/.test(m.toString())));
  });
});
