// Outbound MTA-STS: mta-sts-daemon's file, the TLS policy front (its script, unit, init script and
// the drop-in that makes Postfix pull it in), the table list Postfix asks (the operator's own first,
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
  MTA_STS_USER,
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
      assert.match(unit, /^Before=postfix\.service$/m);
      // No [Install]: Postfix's unit wants it, so it starts whenever Postfix does, at boot too.
      assert.doesNotMatch(unit, /\[Install\]/);
      const dropIn = get(fs, STS_FRONT_FILES.postfixDropIn);
      assert.equal(dropIn.onChange, 'none');
      assert.match(dropIn.content, new RegExp(`^Wants=${STS_FRONT_UNIT}\\.service$`, 'm'));
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
