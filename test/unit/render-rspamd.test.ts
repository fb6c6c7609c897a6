// rspamd's rendered files: DKIM dual signing per domain, key files in a format every release loads,
// the controller's password hash (checked against vectors from the real `rspamadm pw`), thresholds.
import assert from 'node:assert/strict';
import { createPublicKey, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { afterStart, beforeStart, touchesSystemdUnits } from '../../src/apply/scripts.js';
import type { Facts } from '../../src/host/facts.js';
import { formatPlan } from '../../src/plan/format.js';
import { makePlan, sha256, type Plan } from '../../src/plan/plan.js';
import { RSPAMD_DROP_IN, RSPAMD_SETTLE, RSPAMD_WARM_UP, renderRspamd } from '../../src/render/rspamd.js';
import { rspamdKeyFile } from '../../src/render/rspamd-dkim.js';
import { rspamdBase32, rspamdBase32Decode, rspamdPasswordHash, verifyRspamdPassword } from '../../src/keys/rspamd-password.js';
import type { FileSpec } from '../../src/render/types.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';
import { renderMatrix } from '../support/render-cases.js';
import { render as renderAll } from '../../src/services/index.js';

const DOMAINS = ['example.com', 'example.net', 'xn--bcher-kva.example'];

function render(release: Release, spam: { greylisting?: boolean; gtube?: boolean } = {}) {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    spam: { reject: 12, add_header: 5.5, greylist: 3, ...spam },
    domains: {
      'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } },
      'example.net': {},
      'bücher.example': {},
    },
  });
  const keys = fixtureKeys(DOMAINS);
  return { files: renderRspamd({ config, keys, release }), keys };
}

function content(files: FileSpec[], path: string): string {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `${path} is rendered`);
  return f.content;
}

describe('rspamd DKIM signing', () => {
  const { files, keys } = render('debian-12');
  const active = keys.dkim.filter((k) => k.state === 'active');

  it('lists every domain with both its RSA and its Ed25519 selector', () => {
    const conf = content(files, '/etc/rspamd/local.d/dkim_signing.conf');
    for (const domain of DOMAINS) {
      const [rsa, ed] = (['rsa', 'ed25519'] as const).map((a) => active.find((k) => k.domain === domain && k.algorithm === a));
      assert.ok(rsa && ed, `${domain} has both keys in the fixture`);
      const block = new RegExp(
        `"${domain.replace(/\./g, '\\.')}" \\{\\n\\s+selectors = \\[\\n` +
          `\\s+\\{ selector = "${rsa.selector}"; path = "/var/lib/rspamd/dkim/${domain}\\.${rsa.selector}\\.key"; \\},\\n` +
          `\\s+\\{ selector = "${ed.selector}"; path = "/var/lib/rspamd/dkim/${domain}\\.${ed.selector}\\.key"; \\},\\n\\s+\\];`,
      );
      assert.match(conf, block);
    }
    assert.match(conf, /^sign_authenticated = true;$/m);
    assert.match(conf, /^sign_local = true;$/m);
  });

  it('seals ARC with the RSA key only', () => {
    const arc = content(files, '/etc/rspamd/local.d/arc.conf');
    for (const k of active) assert.equal(arc.includes(k.selector), k.algorithm === 'rsa', `${k.domain} ${k.selector}`);
  });

  it('writes each key readable by _rspamd only, RSA as PEM and Ed25519 as rspamd\'s base64 seed', () => {
    for (const k of active) {
      const f = files.find((x) => x.path === `/var/lib/rspamd/dkim/${k.domain}.${k.selector}.key`);
      assert.deepEqual([f?.mode, f?.owner, f?.group, f?.secret], ['0640', 'root', '_rspamd', true]);
      if (k.algorithm === 'rsa') assert.equal(f?.content, k.privatePem);
      else assert.match(f?.content ?? '', /^[A-Za-z0-9+/]{43}=$/);
    }
  });

  it('keeps the Ed25519 seed intact: a key rebuilt from it signs like the original', () => {
    const ed = active.find((k) => k.algorithm === 'ed25519');
    assert.ok(ed);
    const seed = Buffer.from(rspamdKeyFile(ed), 'base64');
    // PKCS#8 for Ed25519 is a fixed 16-byte prefix followed by the 32-byte seed.
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const msg = Buffer.from('dkim');
    const sig = sign(null, msg, { key: der, format: 'der', type: 'pkcs8' });
    assert.ok(verify(null, msg, createPublicKey(ed.privatePem), sig));
  });
});

describe('rspamd controller password', () => {
  // Printed by the real `rspamadm pw -p ...` in the Debian chroots (random salt each time).
  const VECTORS = [
    { release: 'rspamd 3.4 (Debian 12)', password: 'testpass123', hash: '$2$sb3gwtafwxwyrfpi6eii6xqgb5thmcz6$5z7thfokmigiaudzg1k554beygcuoxrdcaqcdn5wfb9bt3scha5y' },
    { release: 'rspamd 3.12 (Debian 13)', password: 'Another-Pass_42', hash: '$2$fe9c8upftbk889a6jpq3oczw3hysiiuo$4gznkrinrt48fp4eozk7gor7teb7qy194s4j66ym3xdmfzpwohyy' },
  ];
  for (const v of VECTORS) {
    it(`verifies a hash made by ${v.release}`, () => {
      assert.ok(verifyRspamdPassword(v.hash, v.password));
      assert.ok(!verifyRspamdPassword(v.hash, `${v.password}x`));
    });
  }

  it('renders a deterministic hash that verifies (and that `rspamadm pw --check` accepted on both releases)', () => {
    const { files, keys } = render('debian-13');
    const hash = rspamdPasswordHash(keys.rspamdControllerPassword);
    assert.equal(hash, rspamdPasswordHash(keys.rspamdControllerPassword));
    assert.match(hash, /^\$2\$[a-z0-9]{32}\$[a-z0-9]{52}$/);
    assert.ok(verifyRspamdPassword(hash, keys.rspamdControllerPassword));
    const f = files.find((x) => x.path === '/etc/rspamd/override.d/worker-controller.inc');
    assert.ok(f?.content.includes(`password = "${hash}";`));
    assert.deepEqual([f?.mode, f?.group, f?.secret], ['0640', '_rspamd', true]);
    assert.ok(!f?.content.includes(keys.rspamdControllerPassword), 'the password itself never reaches the host');
  });

  it('reads and writes rspamd\'s z-base32 (least significant bits first)', () => {
    const bytes = Buffer.from('00ff1280a5', 'hex');
    assert.deepEqual(rspamdBase32Decode(rspamdBase32(bytes)), bytes);
    // 0x01: the low five bits (1 = 'b'), then the remaining three (0 = 'y').
    assert.equal(rspamdBase32(Buffer.from([1])), 'by');
  });
});

describe('rspamd thresholds and options', () => {
  it('takes actions from mailrig.yaml', () => {
    const actions = content(render('debian-13').files, '/etc/rspamd/local.d/actions.conf');
    assert.match(actions, /^reject = 12;$/m);
    assert.match(actions, /^add_header = 5\.5;$/m);
    assert.match(actions, /^greylist = 3;$/m);
  });

  it('turns greylisting off in both the module and the action', () => {
    const { files } = render('debian-12', { greylisting: false });
    assert.match(content(files, '/etc/rspamd/local.d/greylist.conf'), /^enabled = false;$/m);
    assert.match(content(files, '/etc/rspamd/local.d/actions.conf'), /^greylist = null;$/m);
  });

  it('honours GTUBE only when spam.gtube is on', () => {
    assert.doesNotMatch(content(render('debian-12').files, '/etc/rspamd/local.d/options.inc'), /gtube_patterns/);
    assert.match(content(render('debian-12', { gtube: true }).files, '/etc/rspamd/local.d/options.inc'), /^gtube_patterns = "all";$/m);
  });

  it('runs no normal worker: the proxy scans mail from Postfix, the controller everything else', () => {
    const { files } = render('debian-12');
    assert.match(content(files, '/etc/rspamd/override.d/worker-normal.inc'), /^enabled = false;$/m);
    assert.match(content(files, '/etc/rspamd/override.d/worker-proxy.inc'), /^ {2}self_scan = yes;$/m);
  });

  it('binds every worker to loopback on the agreed ports', () => {
    const { files } = render('debian-12');
    for (const [name, port] of [['proxy', 11332], ['normal', 11333], ['controller', 11334]] as const) {
      assert.match(content(files, `/etc/rspamd/override.d/worker-${name}.inc`), new RegExp(`^bind_socket = "127\\.0\\.0\\.1:${port}";$`, 'm'));
    }
    assert.match(content(files, '/etc/rspamd/override.d/options.inc'), /^local_addrs = \["127\.0\.0\.0\/8", "::1", "203\.0\.113\.10", "2001:db8::10"\];$/m);
  });
});

describe('the From: rule for logged-in senders', () => {
  it('lists each address with the logins that may use it, as Postfix\'s sender_logins does', () => {
    const lua = content(render('debian-12').files, '/etc/rspamd/rspamd.local.lua');
    assert.match(lua, /^ {2}\["alice@example\.com"\] = \{ \["alice@example\.com"\] = true \},$/m);
    assert.match(lua, /task:set_pre_result\('reject', 'From: address not owned by user'\)/);
  });
});

describe("rspamd's start: the pattern cache is compiled outside the main process", () => {
  for (const release of ['debian-12', 'debian-13'] as const) {
    it(`${release}: the drop-in warms the cache as rspamd's user before every start, and never blocks it`, () => {
      const { files } = render(release);
      const dropIn = files.find((f) => f.path === RSPAMD_DROP_IN);
      assert.ok(dropIn, 'the drop-in is rendered');
      assert.equal(dropIn.path, '/etc/systemd/system/rspamd.service.d/mailrig.conf');
      assert.deepEqual([dropIn.mode, dropIn.owner, dropIn.group, dropIn.onChange, dropIn.service], ['0644', 'root', 'root', 'restart', 'rspamd']);
      const lines = dropIn.content.split('\n').filter((l) => l && !l.startsWith('#'));
      // `-`: a failed warm-up still starts rspamd; no `+`: it runs as the unit's User=, so the cache
      // files belong to rspamd's user and its daemon can replace them.
      // Each start also starts the settle unit (ordered after rspamd), which restarts it once if
      // hs_helper compiled the regular expressions' cache.
      assert.deepEqual(lines, ['[Unit]', `Wants=${RSPAMD_SETTLE.unit}.service`, '[Service]', `ExecStartPre=-${RSPAMD_WARM_UP}`, 'TimeoutStartSec=300']);
      const unit = content(files, RSPAMD_SETTLE.unitFile).split('\n').filter((l) => l && !l.startsWith('#'));
      assert.ok(unit.includes('After=rspamd.service') && unit.includes('Type=oneshot') && unit.includes(`ExecStart=${RSPAMD_SETTLE.script}`), unit.join('\n'));
      assert.ok(!unit.includes('[Install]'), 'started by rspamd.service only');
      const script = files.find((f) => f.path === RSPAMD_SETTLE.script);
      assert.equal(script?.mode, '0755');
      assert.match(script?.content ?? '', /^LOG=\/var\/log\/rspamd\/rspamd\.log$/m);
      assert.match(RSPAMD_WARM_UP, /^\/usr\/bin\/rspamadm mime urls \/etc\/hostname$/);
    });
  }

  it('hosts without systemd: apply warms the cache as rspamd\'s user before it starts or restarts rspamd, never before a reload', () => {
    const step = beforeStart('sysv', 'rspamd');
    assert.ok(step);
    assert.equal(step.script, `runuser -u _rspamd -- ${RSPAMD_WARM_UP} </dev/null >/dev/null 2>&1 || true`);
    assert.equal(beforeStart('systemd', 'rspamd'), undefined, 'systemd runs it from the drop-in');
    assert.equal(beforeStart('sysv', 'postfix'), undefined);
  });

  it('with systemd, apply waits for the settle unit after it starts or restarts rspamd', () => {
    assert.equal(afterStart('systemd', 'rspamd')?.script, `systemctl start ${RSPAMD_SETTLE.unit}.service </dev/null >/dev/null 2>&1 || true`);
    assert.equal(afterStart('sysv', 'rspamd'), undefined, 'no settle unit without systemd');
    assert.equal(afterStart('systemd', 'postfix'), undefined);
  });

  it('a plan that writes the drop-in needs a daemon-reload; one that only changes rspamd\'s own files does not', () => {
    const { files } = render('debian-12');
    const planOf = (paths: string[]) =>
      ({
        changes: files.filter((f) => paths.includes(f.path)).map((file) => ({ kind: 'update' as const, file })),
        removals: [],
      }) as unknown as Plan;
    assert.equal(touchesSystemdUnits(planOf([RSPAMD_DROP_IN, '/etc/rspamd/local.d/actions.conf'])), true);
    assert.equal(touchesSystemdUnits(planOf(['/etc/rspamd/local.d/actions.conf'])), false);
  });
});

describe('rspamd never mails DMARC aggregate reports', () => {
  // A rua address is whatever the (possibly forged) sending domain publishes: reporting to it
  // would send mail to third parties on a stranger's say-so.
  for (const release of ['debian-12', 'debian-13'] as const) {
    it(`${release}: the dmarc module's reporting is off`, () => {
      const conf = content(render(release).files, '/etc/rspamd/local.d/dmarc.conf');
      assert.match(conf, /^reporting \{\n\s+enabled = false;\n\}$/m);
      assert.doesNotMatch(conf, /enabled = true|reporting = true/);
    });
  }

  it('no rendered file of any case schedules or runs rspamadm dmarc_report', () => {
    for (const { id, ctx } of renderMatrix()) {
      for (const f of renderAll(ctx)) {
        const code = f.content.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
        assert.doesNotMatch(code, /dmarc_report/, `${id}: ${f.path}`);
      }
    }
  });
});

describe('rspamd blocklists (local.d/rbl.conf)', () => {
  const KEY = 'mailrigtestkey0123456789ab';
  const rbl = (release: Release, spam: Record<string, unknown>, server: Record<string, unknown> = {}) => {
    const config = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release, ...server },
      admin_email: 'admin@example.com',
      spam,
      domains: { 'example.com': {} },
    });
    const files = renderRspamd({ config, keys: fixtureKeys(['example.com']), release });
    const file = files.find((f) => f.path === '/etc/rspamd/local.d/rbl.conf');
    assert.ok(file);
    return { file, scores: content(files, '/etc/rspamd/local.d/rbl_group.conf'), dbl: content(files, '/etc/rspamd/local.d/surbl_group.conf') };
  };

  it('maps every Spamhaus error answer to a symbol of score 0, with or without a key', () => {
    for (const spam of [{}, { spamhaus_dqs_key: KEY }]) {
      const { file, scores, dbl } = rbl('debian-12', spam);
      for (const [symbol, code] of [['SPAMHAUS_BLOCKED_TYPO', '127.255.255.252'], ['SPAMHAUS_BLOCKED_OPENRESOLVER', '127.255.255.254'], ['SPAMHAUS_BLOCKED', '127.255.255.255'], ['DBL_PROHIBIT', '127.0.1.255'], ['DBL_BLOCKED_TYPO', '127.255.255.252']] as const) {
        assert.match(file.content, new RegExp(`^ +${symbol} = "${code.replace(/\./g, '\\.')}";$`, 'm'));
      }
      for (const prefix of ['RBL', 'RECEIVED']) for (const s of ['SPAMHAUS', 'SPAMHAUS_BLOCKED_TYPO', 'SPAMHAUS_BLOCKED_OPENRESOLVER', 'SPAMHAUS_BLOCKED']) {
        assert.match(scores, new RegExp(`^ +"${prefix}_${s}" \\{ weight = 0\\.0;`, 'm'));
      }
      for (const s of ['DBL', 'DBL_PROHIBIT', 'DBL_BLOCKED_TYPO', 'DBL_BLOCKED_OPENRESOLVER', 'DBL_BLOCKED']) assert.match(dbl, new RegExp(`^ +"${s}" \\{ weight = 0\\.0;`, 'm'));
    }
  });

  it('asks the public mirrors without a key: the package\'s zones stay, the file is not secret', () => {
    const { file } = rbl('debian-13', {});
    assert.doesNotMatch(file.content, /^ +rbl = /m);
    assert.deepEqual([file.secret, file.mode, file.group], [false, '0644', 'root']);
  });

  it('asks the DQS zones of a key, in a file only rspamd reads and the plan does not show', () => {
    const { file } = rbl('debian-13', { spamhaus_dqs_key: KEY });
    assert.match(file.content, new RegExp(`spamhaus \\{\\n[^}]*rbl = "${KEY}\\.zen\\.dq\\.spamhaus\\.net";`));
    assert.match(file.content, new RegExp(`DBL \\{\\n[^}]*rbl = "${KEY}\\.dbl\\.dq\\.spamhaus\\.net";`));
    assert.deepEqual([file.secret, file.mode, file.group], [true, '0640', '_rspamd']);
  });

  it('a key set on a running host: the plan says rbl.conf changes, never what the key is', () => {
    const before = rbl('debian-12', {}).file;
    const after = rbl('debian-12', { spamhaus_dqs_key: KEY }).file;
    const facts: Facts = {
      os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
      release: 'debian-12',
      init: 'systemd',
      packages: { rspamd: '3.4' },
      files: { [before.path]: { sha256: sha256(before.content), mode: before.mode, owner: before.owner, group: before.group } },
      services: { rspamd: 100 },
      users: ['vmail'],
      timers: [],
      managed: [],
      data: [],
    };
    const plan = makePlan({ packages: ['rspamd'], daemons: ['rspamd'], files: [after] }, facts);
    const text = formatPlan(plan, { before: new Map([[before.path, before.content]]) });
    assert.match(text, /\/etc\/rspamd\/local\.d\/rbl\.conf/);
    assert.match(text, /secret: content not shown/);
    assert.doesNotMatch(text, new RegExp(KEY));
  });

  const lists = { blocklists: [{ zone: 'bl.example.net', score: 6 }, { zone: 'RBL-6.Example.ORG', score: 2.5 }] };
  const cases: Array<{ release: Release; matcherKey: boolean }> = [
    { release: 'debian-12', matcherKey: false },
    { release: 'debian-13', matcherKey: true },
  ];
  for (const { release, matcherKey } of cases) {
    it(`asks each spam.blocklists zone as MAILRIG_RBL_<ZONE>, 127.0.0.x listed, 127.255.255.x an error (${release})`, () => {
      const { file, scores } = rbl(release, lists);
      for (const [zone, symbol, score] of [['bl.example.net', 'MAILRIG_RBL_BL_EXAMPLE_NET', '6'], ['rbl-6.example.org', 'MAILRIG_RBL_RBL_6_EXAMPLE_ORG', '2.5']] as const) {
        const rule = new RegExp(`^  ${symbol} \\{\\n([^}]*returncodes \\{[^}]*\\})`, 'm').exec(file.content)?.[1] ?? '';
        assert.match(rule, new RegExp(`rbl = "${zone.replace(/\./g, '\\.')}";`));
        assert.match(rule, /checks = \["from"\];/);
        assert.match(rule, /unknown = false;/);
        assert.match(rule, new RegExp(`${symbol} = "127%\\.0%\\.0%\\.%d\\+";`));
        assert.match(rule, new RegExp(`${symbol}_ERROR = "127%\\.255%\\.255%\\.%d\\+";`));
        assert.equal(/returncodes_matcher = "luapattern";/.test(rule), matcherKey, 'rspamd 3.4 disables a rule with a key it does not know');
        assert.doesNotMatch(rule, /exclude_private_ips/, 'rspamd 3.12 knows no such key');
        assert.match(scores, new RegExp(`^  "${symbol}" \\{ weight = ${score.replace('.', '\\.')};`, 'm'));
        assert.match(scores, new RegExp(`^  "${symbol}_ERROR" \\{ weight = 0\\.0;`, 'm'));
      }
    });
  }
});
