// Apply when things go wrong: apt fails, a validator rejects the staged configuration, the SSH
// connection drops in the middle. Each time the host keeps running a valid configuration and a
// re-run converges. Also: a non-root login works through sudo. Debian 12 and 13, on hosts booted from
// the cached provisioned image.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../support/fixtures.js';
import { show, type Workspace } from '../support/e2e.js';
import { CONFIG_RELEASE, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

/** Hashes of the live configuration, to prove a failed apply changed nothing. */
async function liveState(host: TestHost): Promise<string> {
  const r = await host.exec(
    'sha256sum /etc/postfix/main.cf /etc/rspamd/local.d/actions.conf /etc/nginx/conf.d/mailrig.conf 2>&1; for p in master dovecot rspamd redis-server nginx; do printf "%s=%s " $p "$(pgrep -o -x $p)"; done',
  );
  return r.stdout;
}

/** Files through which the test and its rspamadm shim on the host signal each other. */
const VALIDATING = '/run/mailrig-test-validating';
const RELEASE = '/run/mailrig-test-release';

/**
 * Polls a shell condition on the host until it holds (true) or `gaveUp` settles first (false). No
 * deadline of its own: the test's timeout bounds it.
 */
async function untilOnHost(host: TestHost, condition: string, gaveUp?: Promise<unknown>): Promise<boolean> {
  let over = false;
  void gaveUp?.then(() => (over = true));
  for (;;) {
    if ((await host.exec(condition)).code === 0) return true;
    if (over) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function healthy(host: TestHost): Promise<void> {
  const check = await host.exec('postfix check && doveconf -n >/dev/null && nginx -t -q && ss -Hltn | grep -c -E ":(25|465|587|143|993|80|443|11332|6379) "');
  assert.equal(check.code, 0, check.stderr);
  assert.ok(Number(check.stdout.trim()) >= 9, `every port listens: ${check.stdout}`);
}

function edit(ws: Workspace, from: string, to: string): void {
  const path = join(ws.dir, 'mailrig.yaml');
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes(from), `mailrig.yaml has ${from}`);
  writeFileSync(path, text.replace(from, to));
}

for (const release of releasesUnderTest()) describe(`apply when things go wrong (${CONFIG_RELEASE[release]})`, { timeout: 15 * 60_000 }, () => {
  let host: TestHost;
  let ws: Workspace;

  before(async () => {
    await cleanupStaleTestHosts();
    ({ host, ws } = await startProvisionedHost({ release, name: `faults-${release}` }));
  });
  after(async () => host?.stop());

  it('apt failing stops apply with apt\'s own words; fixed, a re-run converges', async () => {
    // A package mailrig needs was removed by hand, and an operator's pin forbids it: apt refuses the
    // install, and apply stops before it changes anything.
    const removed = await host.exec("apt-get remove -y -q fail2ban >/dev/null && printf 'Package: fail2ban\\nPin: release *\\nPin-Priority: -1\\n' > /etc/apt/preferences.d/no-fail2ban");
    assert.equal(removed.code, 0, removed.stderr);
    const before = await liveState(host);
    const failed = await ws.mailrig(['apply', '--yes']);
    assert.equal(failed.code, 1, show(failed));
    assert.match(failed.err, /installing packages failed/);
    assert.match(failed.err, /fail2ban/, 'the tail of apt\'s output is shown');
    assert.equal(await liveState(host), before, 'no file was swapped in, no daemon restarted');
    await host.exec('rm /etc/apt/preferences.d/no-fail2ban');
    const ok = await ws.mailrig(['apply', '--yes']);
    assert.equal(ok.code, 0, show(ok));
    await healthy(host);
    const f2b = await host.exec('systemctl is-enabled fail2ban; systemctl is-active fail2ban');
    assert.equal(f2b.stdout, 'enabled\nactive\n', 'fail2ban is back, enabled and running');
  });

  it('a staged configuration a validator rejects is not swapped in, and the message names host and file', async () => {
    // Something on the host that breaks nginx's configuration as a whole: only nginx -t can tell.
    await host.exec("echo 'this is not nginx syntax' > /etc/nginx/conf.d/zz-broken.conf");
    // A new domain changes nginx's sites (mta-sts., autoconfig. …), so nginx -t judges the staged tree.
    const add = await ws.mailrig(['domain', 'add', 'example.net']);
    assert.equal(add.code, 0, show(add));
    const before = await liveState(host);
    const r = await ws.mailrig(['apply', '--yes']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.err, new RegExp(`${host.address.replace(/\./g, '\\.')}.*staged configuration was rejected; nothing was changed`));
    assert.match(r.err, /zz-broken\.conf/, 'nginx names the file');
    assert.equal(await liveState(host), before, 'no file changed, no daemon restarted');
    await host.exec('rm /etc/nginx/conf.d/zz-broken.conf');
    const ok = await ws.mailrig(['apply', '--yes']);
    assert.equal(ok.code, 0, show(ok));
    await healthy(host);
  });

  it('a dropped SSH connection mid-apply leaves a valid configuration running, and a re-run converges', async () => {
    // Hold apply inside validation until the connection is cut: a shim in front of rspamadm says
    // it was reached, then waits to be let go and fails, so nothing that outlives the drop passes.
    await host.exec(`rm -f ${VALIDATING} ${RELEASE} && printf '#!/bin/sh\\ntouch ${VALIDATING}\\nwhile [ ! -e ${RELEASE} ]; do sleep 0.1; done\\nexit 1\\n' > /usr/local/bin/rspamadm && chmod 755 /usr/local/bin/rspamadm`);
    edit(ws, 'reject: 15', 'reject: 14');
    const before = await liveState(host);
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/mailrig.js'), 'apply', '--yes', '--identity', host.keyFile, '--known-hosts', host.knownHostsFile], {
      cwd: ws.dir,
      env: { ...process.env, HOME: ws.dir, SSH_AUTH_SOCK: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const reached = await untilOnHost(host, `test -e ${VALIDATING}`, closed);
    assert.ok(reached, `apply ended before validating: ${out}\n${err}`);
    // The operator's network goes away: every SSH session to the host dies.
    // (Debian 12 names a session's process "sshd: root@…", Debian 13 "sshd-session: root@…". [s]: the
    // patterns must not match the shell that runs pkill, or it kills that shell before the second.)
    await host.exec("pkill -f '[s]shd: root@' ; pkill -f '[s]shd-session'; true");
    const code = await closed;
    assert.match(out, /validating the staged configuration/);
    assert.notEqual(code, 0, `apply failed: ${out}\n${err}`);
    assert.equal(await liveState(host), before, 'the drop happened before the swap: nothing changed');
    // Let the orphaned validation end (failing), and wait until it has.
    await host.exec(`touch ${RELEASE}`);
    // ([/]: the pattern must not match the shell that runs pgrep, whose command line contains it.)
    assert.ok(await untilOnHost(host, "! pgrep -f '[/]usr/local/bin/rspamadm' >/dev/null"), 'the orphaned validation ended');
    await healthy(host);
    await host.exec(`rm /usr/local/bin/rspamadm ${VALIDATING} ${RELEASE}`);
    const again = await ws.mailrig(['apply', '--yes']);
    assert.equal(again.code, 0, show(again));
    assert.match(again.out, /applied/);
    const plan = await ws.mailrig(['plan']);
    assert.match(plan.out, /No changes/);
    await healthy(host);
  });

  it('a login without root works through sudo', async () => {
    edit(ws, `ssh: root@${host.address}`, `ssh: deploy@${host.address}`);
    const plan = await ws.mailrig(['plan']);
    assert.equal(plan.code, 0, show(plan));
    assert.match(plan.out, new RegExp(`deploy@.*Debian GNU/Linux ${CONFIG_RELEASE[release].slice('debian-'.length)}`));
    assert.match(plan.out, /No changes/, 'facts read through sudo see the root-only files too');
  });
});
