// Outbound MTA-STS: mta-sts-daemon's files, the TLS policy front (its script, unit, socket and init
// script), both on demand where systemd is PID 1 (sockets, systemd's proxy, idle exits), the table list Postfix asks (the operator's own first,
// then the front, never mta-sts-daemon directly), and the loopback-only ports check audits. The
// relays' own empty policy table is pinned in resolver.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { LOOPBACK_PORTS, publicPorts } from '../../src/check/host/ports.js';
import {
  MTA_STS_CACHE,
  MTA_STS_CONF,
  MTA_STS_ON_DEMAND_FILES,
  MTA_STS_ON_DEMAND_UNIT,
  MTA_STS_UNIT,
  MTA_STS_USER,
  STS_EXIT_IDLE_SECONDS,
  STS_FRONT_FILES,
  STS_FRONT_PROCESS,
  STS_FRONT_SCRIPT,
  STS_FRONT_UNIT,
  STS_PORTS,
  STS_POLICY_TABLE,
} from '../../src/render/mta-sts.js';
import { SYSTEM_CA_FILE, TLS_POLICY } from '../../src/render/postfix.js';
import type { FileSpec } from '../../src/render/types.js';
import { daemonSpec, DAEMONS, packagesFor, portsFor, render } from '../../src/services/index.js';
import { configFrom, fixtureKeys } from '../support/fixtures.js';

const get = (fs: FileSpec[], path: string) => fs.find((f) => f.path === path) ?? assert.fail(`${path} is rendered`);
/** The value of a main.cf setting, continuation lines joined. */
const postconf = (text: string, name: string) => new RegExp(`^${name} = (.*(?:\\n[ \\t]+.*)*)$`, 'm').exec(text)?.[1]?.replace(/\s+/g, ' ');

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`outbound MTA-STS (${release})`, () => {
    const config = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
      admin_email: 'admin@example.com',
      domains: { 'example.com': {} },
      tls_policy: { 'partner.example': 'encrypt' },
    });
    const fs = render({ config, keys: fixtureKeys(['example.com']), release });

    it("Postfix asks its own table first, then the front on loopback; never mta-sts-daemon directly", () => {
      const main = get(fs, '/etc/postfix/main.cf').content;
      assert.equal(postconf(main, 'smtp_tls_policy_maps'), `lmdb:${TLS_POLICY}, socketmap:inet:127.0.0.1:${STS_PORTS.front}:postfix`);
      assert.equal(STS_POLICY_TABLE, `socketmap:inet:127.0.0.1:${STS_PORTS.front}:postfix`);
      assert.doesNotMatch(main, new RegExp(`:${STS_PORTS.daemon}\\b`));
      // The system CAs, a file smtp(8) reads before it enters its chroot (a CApath would be read later).
      assert.equal(postconf(main, 'smtp_tls_CAfile'), SYSTEM_CA_FILE);
      assert.equal(postconf(main, 'smtp_tls_security_level'), 'dane');
    });

    it('mta-sts-daemon: loopback, its persistent sqlite cache, testing policies not enforced', () => {
      const f = get(fs, MTA_STS_CONF);
      assert.deepEqual([f.service, f.onChange, f.owner, f.mode], ['mta-sts', 'restart', 'root', '0644']);
      const yml = parse(f.content) as Record<string, unknown>;
      assert.equal(yml.host, '127.0.0.1');
      assert.equal(yml.port, STS_PORTS.daemon);
      // mta-sts-daemon 1.1 cannot start with reuse_port off (its start() then never sets its options).
      assert.equal(yml.reuse_port, undefined);
      assert.deepEqual(yml.cache, { type: 'sqlite', options: { filename: MTA_STS_CACHE, threads: 1 } });
      assert.deepEqual(yml.default_zone, { strict_testing: false, timeout: 10, require_sni: true });
      // Where systemd starts it on demand: the same settings on the port behind systemd's proxy.
      const onDemand = parse(get(fs, MTA_STS_ON_DEMAND_FILES.conf).content) as Record<string, unknown>;
      assert.deepEqual({ ...onDemand, port: STS_PORTS.daemon }, yml);
      assert.equal(onDemand.port, STS_PORTS.daemonOnDemand);
    });

    it('mta-sts-daemon on demand: systemd holds its port, its proxy starts the daemon and exits idle, the daemon with it', () => {
      const lines = (path: string) => get(fs, path).content.split('\n').filter((l) => l && !l.startsWith('#'));
      assert.deepEqual(lines(MTA_STS_ON_DEMAND_FILES.socket), [
        '[Unit]', `Description=mailrig: mta-sts-daemon's socket (Postfix's MTA-STS policies, through the front)`,
        '[Socket]', `ListenStream=127.0.0.1:${STS_PORTS.daemon}`, '[Install]', 'WantedBy=sockets.target',
      ]);
      const proxy = lines(MTA_STS_ON_DEMAND_FILES.proxy);
      for (const l of [`BindsTo=${MTA_STS_UNIT}.service`, `After=${MTA_STS_ON_DEMAND_UNIT}.socket ${MTA_STS_UNIT}.service`, `Environment=EXIT_IDLE_SECONDS=${STS_EXIT_IDLE_SECONDS}`,
        `ExecStart=/usr/lib/systemd/systemd-socket-proxyd --exit-idle-time=\${EXIT_IDLE_SECONDS}s 127.0.0.1:${STS_PORTS.daemonOnDemand}`, `User=${MTA_STS_USER}`]) {
        assert.ok(proxy.includes(l), `${l} in\n${proxy.join('\n')}`);
      }
      assert.deepEqual(lines(MTA_STS_ON_DEMAND_FILES.daemonDropIn), ['[Unit]', 'StopWhenUnneeded=yes', '[Service]', 'ExecStart=', `ExecStart=/usr/bin/mta-sts-daemon --config ${MTA_STS_ON_DEMAND_FILES.conf}`]);
      const spec = daemonSpec('mta-sts').onDemandWithSystemd;
      assert.equal(spec?.socket, `${MTA_STS_ON_DEMAND_UNIT}.socket`);
      assert.match(spec?.start ?? '', new RegExp(`^systemctl disable --quiet ${MTA_STS_UNIT}\\.service && .* && systemctl enable --now --quiet ${MTA_STS_ON_DEMAND_UNIT}\\.socket$`));
    });

    it('the front: a script on loopback that asks unbound and then mta-sts-daemon, run by its own unit as an unprivileged user', () => {
      const script = get(fs, STS_FRONT_SCRIPT);
      assert.deepEqual([script.mode, script.service, script.onChange], ['0755', 'sts-front', 'restart']);
      assert.match(script.content, /^#!\/usr\/bin\/python3\n/);
      assert.match(script.content, new RegExp(`^LISTEN = \\('127\\.0\\.0\\.1', ${STS_PORTS.front}\\)$`, 'm'));
      assert.match(script.content, new RegExp(`^UPSTREAM = \\('127\\.0\\.0\\.1', ${STS_PORTS.daemon}\\)$`, 'm'));
      assert.match(script.content, /^RESOLVER = \('127\.0\.0\.1', 53\)$/m);
      // It compiles (Python 3 of the machine running the tests; the hosts' own run it at apply: --check).
      const python = spawnSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "sts-front", "exec")'], { input: script.content, encoding: 'utf8' });
      if (python.error === undefined) assert.equal(python.status, 0, python.stderr);
      assert.ok(STS_FRONT_PROCESS.length <= 15 && STS_FRONT_SCRIPT.endsWith(`/${STS_FRONT_PROCESS}`), 'its process name is its file name');

      const unit = get(fs, STS_FRONT_FILES.unit).content;
      assert.match(unit, new RegExp(`^ExecStart=${STS_FRONT_SCRIPT}$`, 'm'));
      assert.match(unit, new RegExp(`^User=${MTA_STS_USER}$`, 'm'));
      assert.match(unit, new RegExp(`^Environment=EXIT_IDLE_SECONDS=${STS_EXIT_IDLE_SECONDS}$`, 'm'));
      // No [Install]: its socket, enabled by apply (sockets.target wants it), starts it.
      assert.doesNotMatch(unit, /\[Install\]/);
      const socket = get(fs, STS_FRONT_FILES.socket);
      assert.equal(socket.onChange, 'restart');
      assert.match(socket.content, new RegExp(`^ListenStream=127\\.0\\.0\\.1:${STS_PORTS.front}$`, 'm'));
      assert.match(socket.content, /^WantedBy=sockets\.target$/m);
      assert.equal(daemonSpec('sts-front').onDemandWithSystemd?.socket, `${STS_FRONT_UNIT}.socket`);
      const init = get(fs, STS_FRONT_FILES.initScript);
      assert.equal(init.mode, '0755');
      assert.match(init.content, new RegExp(`--chuid ${MTA_STS_USER}:${MTA_STS_USER} --startas "\\$SCRIPT"`));
      assert.match(init.content, new RegExp(`^NAME=${STS_FRONT_PROCESS}$`, 'm'));
      const sh = spawnSync('sh', ['-n'], { input: init.content, encoding: 'utf8' });
      assert.equal(sh.status, 0, sh.stderr);
    });

    it('two daemons before Postfix, their packages, validators and loopback-only ports', () => {
      assert.ok(DAEMONS.indexOf('unbound') < DAEMONS.indexOf('mta-sts'));
      assert.ok(DAEMONS.indexOf('mta-sts') < DAEMONS.indexOf('sts-front') && DAEMONS.indexOf('sts-front') < DAEMONS.indexOf('postfix'));
      const packages = packagesFor(config, { release, init: 'systemd' });
      assert.ok(packages.includes('postfix-mta-sts-resolver') && packages.includes('python3'), packages.join(' '));
      assert.deepEqual(portsFor(config)['mta-sts'], [STS_PORTS.daemon]);
      assert.deepEqual(portsFor(config)['sts-front'], [STS_PORTS.front]);
      assert.match(daemonSpec('mta-sts').validate, /load_config/);
      assert.equal(daemonSpec('sts-front').validate, `${STS_FRONT_SCRIPT} --check`);
      const loopback = LOOPBACK_PORTS.filter((p) => p.daemon === 'mta-sts' || p.daemon === 'sts-front').map((p) => p.port);
      assert.deepEqual(loopback, [STS_PORTS.daemon, STS_PORTS.front]);
      const outside = publicPorts({ config } as never).map((p) => p.port);
      assert.ok(!outside.includes(STS_PORTS.daemon) && !outside.includes(STS_PORTS.front), outside.join(' '));
    });
  });
}
