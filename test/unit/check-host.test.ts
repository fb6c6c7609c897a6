// Host checks: the check-facts parsers on output recorded from a provisioned Debian 12 test host
// (test/fixtures/check-facts/), and each judgement on good and bad facts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { daemons } from '../../src/check/host/daemons.js';
import { judgeDrift } from '../../src/check/host/drift.js';
import { judgeLoopbackPort, judgePublicPort, LOOPBACK_PORTS, ports, publicPorts } from '../../src/check/host/ports.js';
import { judgeQueue } from '../../src/check/host/queue.js';
import { judgeDisks, judgeMemory } from '../../src/check/host/resources.js';
import { judgeSsh } from '../../src/check/host/ssh.js';
import { judgeUpdates } from '../../src/check/host/updates.js';
import { DEFAULT_OUTBOUND_TARGETS, judgeOutbound, outboundTargets } from '../../src/check/deliverability/outbound.js';
import { judgeRelayLog } from '../../src/check/deliverability/routes.js';
import { checkFactsScript, outboundProbesScript, parseApt, parseCheckFacts, parseListening, parseOutbound, parseQueue, splitAddressPort, type CheckFacts } from '../../src/host/facts-check.js';
import { factsScript, parseFacts } from '../../src/host/facts.js';
import { desiredState } from '../../src/plan/desired.js';
import { makePlan } from '../../src/plan/plan.js';
import { FIXTURES, fixtureKeys, oneDomainConfig } from '../support/fixtures.js';
import { testEnv } from '../support/check-env.js';

const text = (name: string) => readFileSync(join(FIXTURES, 'check-facts', name), 'utf8');
const good = parseCheckFacts(text('bookworm-provisioned.txt'));
const broken = parseCheckFacts(text('bookworm-broken.txt'));
const redis = LOOPBACK_PORTS.find((p) => p.port === 6379) as (typeof LOOPBACK_PORTS)[number];
const run = (cmd: string) => `ssh root@host '${cmd}'`;

describe('check facts: parsers on recorded output', () => {
  it('a provisioned host: sockets, queue, disks, memory, sshd, certificate, outbound', () => {
    assert.ok(good.now > 1_700_000_000);
    const ports = new Set(good.listening.map((s) => s.port));
    for (const p of [25, 465, 587, 143, 993, 4190, 80, 443, 11332, 6379]) assert.ok(ports.has(p), `listens on ${p}`);
    assert.deepEqual(good.listening.filter((s) => s.port === 6379).map((s) => s.address), ['127.0.0.1']);
    assert.equal(good.listening.find((s) => s.port === 25)?.process, 'master');
    assert.equal(good.queue.unavailable, false);
    assert.ok(good.disks.some((d) => d.mount === '/' && d.sizeBytes > 0));
    assert.ok(good.memory && good.memory.availableBytes > 0);
    assert.equal(good.sshd.passwordauthentication, 'no');
    assert.match(good.installedCertificate, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(good.outbound.length, 1);
    assert.equal(good.outbound[0]?.connected, true);
    assert.equal(good.reboot.required, false);
  });

  it('the broken host: redis on every address, outbound blocked', () => {
    assert.deepEqual(broken.listening.filter((s) => s.port === 6379).map((s) => s.address), ['0.0.0.0']);
    assert.equal(broken.outbound[0]?.connected, false);
  });

  it('the check script ends its sections, so the plan facts after it parse unchanged', () => {
    const plan = factsScript({ packages: ['postfix'], paths: ['/etc/hostname'], processes: { postfix: 'master' }, users: ['vmail'] });
    const both = `${checkFactsScript({ mounts: ['/'], certificatePath: '/x', outbound: [] })}\n${plan}`;
    assert.match(both, /echo '### mailrig-check end'\n/);
    const out = '### mailrig-check now\n1\n### mailrig-check end\n### mailrig-facts users\nvmail\n';
    assert.deepEqual(parseFacts(out).users, ['vmail']);
    assert.equal(parseCheckFacts(out).now, 1);
  });

  it('ss addresses in every spelling', () => {
    assert.deepEqual(['0.0.0.0:25', '[::]:993', '*:80', '127.0.0.1%lo:53', '[::1]:6379'].map(splitAddressPort), [
      { address: '0.0.0.0', port: 25 },
      { address: '::', port: 993 },
      { address: '*', port: 80 },
      { address: '127.0.0.1', port: 53 },
      { address: '::1', port: 6379 },
    ]);
    assert.deepEqual(parseListening(['LISTEN 0 511 127.0.0.1:6379 0.0.0.0:* users:(("redis-server",pid=9,fd=6))', 'UNCONN 0 0 0.0.0.0:53 0.0.0.0:*']), [
      { address: '127.0.0.1', port: 6379, process: 'redis-server' },
    ]);
  });

  it('postqueue -j: deferred count and oldest arrival', () => {
    const q = parseQueue([
      '{"queue_name": "deferred", "queue_id": "A1", "arrival_time": 1700000100, "message_size": 1, "recipients": []}',
      '{"queue_name": "active", "queue_id": "A2", "arrival_time": 1700000000, "message_size": 1, "recipients": []}',
      '{"queue_name": "deferred", "queue_id": "A3", "arrival_time": 1700000050, "message_size": 1, "recipients": []}',
    ]);
    assert.deepEqual(q, { total: 3, deferred: 2, oldestDeferred: 1700000050, unavailable: false });
    assert.equal(parseQueue(['unavailable']).unavailable, true);
  });

  it('apt: security suites counted apart from the rest', () => {
    const a = parseApt(
      ['libssl3/bookworm-security 3.0.17-1~deb12u3 amd64 [upgradable from: 3.0.17-1~deb12u2]', 'tzdata/bookworm-updates 2025b-0+deb12u1 all [upgradable from: 2025a-0+deb12u1]', 'libcups2/oldstable,oldstable-security 2.4.2 amd64 [upgradable from: 2.4.1]'],
      ['1700000000'],
    );
    assert.deepEqual(a, { security: ['libssl3 3.0.17-1~deb12u3', 'libcups2 2.4.2'], other: 1, listsUpdated: 1700000000 });
  });

  it('outbound probes: a greeting is a connection; silence, no DNS and a refusal are told apart', () => {
    assert.deepEqual(
      parseOutbound([
        'mx.example:25\t0\t220 mx.example ESMTP',
        'mx2.example:25\t124\t',
        'mx3.example:25\t1\tbash: line 1: mx3.example: Name or service not known bash: line 1: /dev/tcp/mx3.example/25: Invalid argument',
        'mx4.example:25\t1\tbash: line 1: connect: Connection refused bash: line 1: /dev/tcp/mx4.example/25: Connection refused',
        'mx5.example:25\t1\tbash: line 1: connect: Network is unreachable',
      ]).map((p) => [p.target, p.connected, p.outcome]),
      [
        ['mx.example:25', true, 'ok'],
        ['mx2.example:25', false, 'blocked'],
        ['mx3.example:25', false, 'no-dns'],
        ['mx4.example:25', false, 'refused'],
        ['mx5.example:25', false, 'blocked'],
      ],
    );
  });
});

describe('check: host judgements', () => {
  const config = oneDomainConfig();
  const keys = fixtureKeys(['example.com']);
  const desired = desiredState({ config, keys, release: 'debian-12' }, 'sysv');

  it('daemons: a stopped one fails with how to start it', async () => {
    const facts = parseFacts('### mailrig-facts init\nsysv\n### mailrig-facts processes\nunbound\t9\npostfix\t10\ndovecot\t\nrspamd\t11\npostsrsd\t15\nmta-sts\t16\nsts-front\t17\nredis\t12\nnginx\t13\nfail2ban\t14\n');
    const view = { target: 't', facts, check: good, plan: makePlan(desired, facts), managedFiles: desired.files.length };
    const rs = await daemons.run(testEnv({ config, records: [] }, { ok: true, view }));
    assert.deepEqual(rs.filter((r) => r.status === 'fail').map((r) => r.subject), ['dovecot']);
    assert.match(rs.find((r) => r.subject === 'dovecot')?.fix ?? '', /mailrig apply starts it \(or ssh root@203\.0\.113\.10 'service dovecot start'\)/);
  });

  it('daemons: where systemd holds its socket, the MTA-STS pair is on demand; without the socket it fails with how to enable it', async () => {
    const facts = parseFacts('### mailrig-facts init\nsystemd\n### mailrig-facts processes\nunbound\t9\npostfix\t10\ndovecot\t16\nrspamd\t11\npostsrsd\t15\nmta-sts\t0\nsts-front\t\nredis\t12\nnginx\t13\nfail2ban\t14\n');
    const view = { target: 't', facts, check: good, plan: makePlan(desired, facts), managedFiles: desired.files.length };
    const rs = await daemons.run(testEnv({ config, records: [] }, { ok: true, view }));
    assert.equal(rs.find((r) => r.subject === 'mta-sts')?.message, 'on demand (systemd listens for it: mailrig-mta-sts.socket)');
    assert.deepEqual(rs.filter((r) => r.status === 'fail').map((r) => r.subject), ['sts-front']);
    assert.match(rs.find((r) => r.subject === 'sts-front')?.fix ?? '', /systemctl enable --now mailrig-sts-front\.socket/);
  });

  it('with dav: radicale, a stopped Radicale fails too, and its port counts as loopback-only, not public', async () => {
    const dav = { ...config, dav: 'radicale' as const };
    const facts = parseFacts('### mailrig-facts init\nsysv\n### mailrig-facts processes\nunbound\t9\npostfix\t10\ndovecot\t16\nrspamd\t11\npostsrsd\t15\nmta-sts\t17\nsts-front\t18\nredis\t12\nradicale\t\nnginx\t13\nfail2ban\t14\n');
    const view = { target: 't', facts, check: good, plan: makePlan(desired, facts), managedFiles: desired.files.length };
    const rs = await daemons.run(testEnv({ config: dav, records: [] }, { ok: true, view }));
    assert.deepEqual(rs.filter((r) => r.status === 'fail').map((r) => r.subject), ['radicale']);
    const env = testEnv({ config: dav, records: [] }, { ok: true, view });
    assert.ok(!publicPorts(env).some((p) => p.port === 5232), 'Radicale is reached through nginx only');
    assert.equal(LOOPBACK_PORTS.find((p) => p.port === 5232)?.daemon, 'radicale');
  });

  it('public ports: refused and nothing listening vs listening behind a firewall', () => {
    const refused = [{ address: '203.0.113.10', error: 'connection refused' }];
    const down = judgePublicPort(993, 'dovecot', refused, broken.listening.filter((s) => s.port !== 993));
    assert.equal(down.status, 'fail');
    assert.match(down.message, /nothing listens on it on the host/);
    const walled = judgePublicPort(993, 'dovecot', [{ address: '203.0.113.10', error: 'no connection within 5 s' }], good.listening);
    assert.match(walled.fix ?? '', /firewall/);
    assert.equal(judgePublicPort(993, 'dovecot', [{ address: '203.0.113.10', error: undefined }], good.listening).status, 'ok');
  });

  it('loopback ports: redis on 0.0.0.0 fails, on 127.0.0.1 is ok', () => {
    const ok = judgeLoopbackPort(redis, good.listening, [{ address: '203.0.113.10', error: 'connection refused' }]);
    assert.equal(ok?.status, 'ok');
    const open = judgeLoopbackPort(redis, broken.listening, [{ address: '203.0.113.10', error: undefined }]);
    assert.equal(open?.status, 'fail');
    assert.match(open?.message ?? '', /redis is exposed beyond loopback: 0\.0\.0\.0:6379, 203\.0\.113\.10:6379 \(reachable from here\)/);
    assert.match(open?.fix ?? '', /mailrig apply restores the redis config/);
  });

  it('ports without the inside view: only what the outside sees', async () => {
    const rs = await ports.run(testEnv({ config, records: [], probes: { ...testEnv({ config, records: [] }).probes, reach: async (_a, p) => (p === 25 ? undefined : 'connection refused') } }));
    assert.equal(rs.find((r) => r.id === 'host.port.25')?.status, 'ok');
    assert.match(rs.find((r) => r.id === 'host.port.993')?.message ?? '', /not reachable from here/);
    assert.equal(rs.find((r) => r.id === 'host.port.6379')?.status, 'ok');
  });

  const facts = (over: Partial<CheckFacts>): CheckFacts => ({ ...good, ...over });

  it('queue: thresholds on size and on the oldest deferred message', () => {
    assert.equal(judgeQueue(facts({ queue: { total: 0, deferred: 0, oldestDeferred: undefined, unavailable: false } }), 'postqueue -p').status, 'ok');
    const old = judgeQueue(facts({ now: 1_700_400_000, queue: { total: 3, deferred: 3, oldestDeferred: 1_700_000_000, unavailable: false } }), 'postqueue -p');
    assert.equal(old.status, 'fail');
    assert.match(old.message, /3 messages, 3 deferred, the oldest deferred for 5 days/);
    assert.equal(judgeQueue(facts({ queue: { total: 60, deferred: 0, oldestDeferred: undefined, unavailable: false } }), 'x').status, 'warn');
  });

  it('disk and memory thresholds', () => {
    const G = 1024 ** 3;
    const [full] = judgeDisks(facts({ disks: [{ mount: '/', sizeBytes: 20 * G, availableBytes: 0.3 * G }] }));
    assert.equal(full?.status, 'fail');
    const [low] = judgeDisks(facts({ disks: [{ mount: '/', sizeBytes: 20 * G, availableBytes: 1.5 * G }] }));
    assert.equal(low?.status, 'warn');
    assert.equal(judgeDisks(good)[0]?.status, 'ok');
    assert.equal(judgeMemory(facts({ memory: { totalBytes: 2 * G, availableBytes: 0.05 * G } }))[0]?.status, 'fail');
  });

  it('security updates "as of the last apt update", stale lists, pending reboot', () => {
    const now = 1_700_000_000;
    const pending = judgeUpdates(facts({ now, apt: { security: ['libssl3 3.0.17'], other: 0, listsUpdated: now - 7200 }, reboot: { required: true, packages: ['linux-image-amd64'] } }), run);
    assert.equal(pending[0]?.status, 'fail');
    assert.match(pending[0]?.message ?? '', /1 security update pending \(as of the last apt update, 2 h ago\): libssl3/);
    assert.match(pending[1]?.message ?? '', /reboot is pending for linux-image-amd64/);
    const stale = judgeUpdates(facts({ now, apt: { security: [], other: 0, listsUpdated: now - 30 * 86400 }, reboot: { required: false, packages: [] } }), run);
    assert.equal(stale[0]?.status, 'warn');
    assert.match(stale[0]?.message ?? '', /30 days ago/);
  });

  it('SSH password login warns, keys only is ok', () => {
    assert.equal(judgeSsh(good).status, 'ok');
    const on = judgeSsh(facts({ sshd: { passwordauthentication: 'yes', kbdinteractiveauthentication: 'no', usepam: 'yes' } }));
    assert.equal(on.status, 'warn');
    assert.match(on.fix ?? '', /PasswordAuthentication no/);
  });

  it('drift names the files that differ', () => {
    const facts0 = parseFacts('');
    const plan = makePlan(desired, facts0);
    const r = judgeDrift({ ...plan, changes: plan.changes.filter((c) => c.file.path === '/etc/redis/redis.conf').map((c) => ({ ...c, kind: 'update' as const })) }, desired.files.length);
    assert.equal(r.status, 'warn');
    assert.equal(r.message, '1 file differs: /etc/redis/redis.conf (changed)');
    assert.equal(judgeDrift({ ...plan, changes: [] }, 40).message, 'all 40 as mailrig rendered them');
  });

  it('outbound port 25: any target answering is enough', () => {
    assert.equal(judgeOutbound(good.outbound).status, 'ok');
    const blocked = judgeOutbound(broken.outbound);
    assert.equal(blocked.status, 'fail');
    assert.match(blocked.fix ?? '', /unblock outbound port 25/);
  });

  it('outbound port 25: blocked says so and shows the relay section to add; a default relay makes it a warning', () => {
    const silent = [{ target: 'mx.example:25', connected: false, outcome: 'blocked' as const, detail: 'timed out' }];
    const blocked = judgeOutbound(silent, config);
    assert.equal(blocked.status, 'fail');
    assert.match(blocked.message, /^blocked: outbound port 25 is closed/);
    assert.match(blocked.fix ?? '', /relay: \{ default: \{ host: smtp\.your-relay\.example, port: 587, username: your-login \} \}/);
    const refused = judgeOutbound([{ ...silent[0]!, outcome: 'refused', detail: 'Connection refused' }], config);
    assert.match(refused.message, /^refused: /);
    const noDns = judgeOutbound([{ ...silent[0]!, outcome: 'no-dns', detail: 'Name or service not known' }], config);
    assert.equal(noDns.status, 'warn');
    assert.match(noDns.message, /could not resolve/);
    const relayed = oneDomainConfig({ relay: { default: { host: 'smtp.relay.example.net', port: 587, username: 'u' } } });
    const viaRelay = judgeOutbound(silent, relayed);
    assert.equal(viaRelay.status, 'warn');
    assert.match(viaRelay.message, /goes through the default relay smtp\.relay\.example\.net:587/);
  });

  it('outbound targets: host[:port] only, port 25 by default; anything else is a usage error naming it', () => {
    assert.deepEqual(outboundTargets(undefined), DEFAULT_OUTBOUND_TARGETS);
    assert.deepEqual(outboundTargets(['mx.example.net', '192.0.2.7:2525', '[2001:db8::25]', 'bücher.example']), [
      'mx.example.net:25',
      '192.0.2.7:2525',
      '[2001:db8::25]:25',
      'xn--bcher-kva.example:25',
    ]);
    for (const bad of ['x$(id)', 'mx.example.net:0', 'mx.example.net:65536', 'a b', '[mx.example.net]:25', '2001:db8::25', "x';id;'", '-oProxy.example']) {
      assert.throws(() => outboundTargets([bad]), (e: Error & { exitCode?: number }) => e.message.startsWith(`--outbound-target ${JSON.stringify(bad)}: expected host[:port]`), bad);
    }
  });

  it('outbound probe: a greeting is ok, a closed port refused, an unknown name no DNS (run by sh here)', async () => {
    const { createServer } = await import('node:net');
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const smtp = createServer((s) => s.end('220 probe.test ESMTP\r\n'));
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const open = `127.0.0.1:${(smtp.address() as { port: number }).port}`;
      const targets = [open, `127.0.0.1:${closedPort}`, 'no-such-name.invalid:25'];
      const { stdout: out } = await promisify(execFile)('sh', ['-c', outboundProbesScript(targets)]);
      const byTarget = new Map(parseOutbound(out.split('\n')).map((p) => [p.target, p]));
      assert.equal(byTarget.get(open)?.outcome, 'ok');
      assert.match(byTarget.get(open)?.detail ?? '', /^220 probe\.test ESMTP/);
      assert.equal(byTarget.get(`127.0.0.1:${closedPort}`)?.outcome, 'refused');
      assert.equal(byTarget.get('no-such-name.invalid:25')?.outcome, 'no-dns');
    } finally {
      smtp.close();
    }
  });

  it('relay login: the newest log line about the relay decides, and names the cause', () => {
    const r = { host: 'relay.example.net', port: 587 as const, username: 'u' };
    const failed =
      'Dec  2 03:10:00 mail postfix/smarthost/smtp[123]: 4AbC: to=<x@elsewhere.test>, relay=relay.example.net[10.0.0.2]:587, delay=1, status=deferred (SASL authentication failed; server relay.example.net[10.0.0.2] said: 535 5.7.8 Error: authentication failed: authentication failure)';
    const sent = 'Dec  2 03:11:00 mail postfix/smarthost/smtp[124]: 5AbC: to=<x@elsewhere.test>, relay=relay.example.net[10.0.0.2]:587, delay=1, status=sent (250 2.0.0 Ok: queued as X)';
    const bad = judgeRelayLog(r, [failed]);
    assert.equal(bad.status, 'fail');
    assert.match(bad.message, /rejects the login u: SASL authentication failed; server relay\.example\.net\[10\.0\.0\.2\] said: 535/);
    assert.match(bad.fix ?? '', /mailrig relay password relay\.example\.net/);
    assert.equal(judgeRelayLog(r, [failed, sent]).status, 'ok');
    assert.equal(judgeRelayLog(r, []).status, 'ok');
    assert.equal(judgeRelayLog({ ...r, port: 465 }, [failed]).status, 'ok');
  });
});
