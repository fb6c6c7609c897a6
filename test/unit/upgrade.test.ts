// mailrig upgrade's pure parts: the preflight's decisions (table-driven), the step journal (what a
// re-run continues with, what can still be undone), the parsers of the host's answers, and the step
// scripts — the sources switch run for real on scratch files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseSources, parseUpgradeFacts, type UpgradeFacts } from '../../src/upgrade/facts.js';
import { journalHeader, journalLine, parseJournal, pastNoReturn, remaining, STEPS } from '../../src/upgrade/journal.js';
import { decide, decideBackup, MIN_FREE_KB, RECENT_BACKUP_MS, type PreflightInput } from '../../src/upgrade/preflight.js';
import { debsOfSimulation, packagesScript, pauseScript, simulateScript, sourcesScript, stopScript, unpackScript } from '../../src/upgrade/scripts.js';
import { validateScript } from '../../src/apply/scripts.js';
import { scratchDir } from '../support/project.js';

const syntaxOk = (script: string) => spawnSync('sh', ['-n'], { input: script }).status === 0;

const bookworm = [
  { file: '/etc/apt/sources.list', uri: 'http://deb.debian.org/debian', suite: 'bookworm' },
  { file: '/etc/apt/sources.list', uri: 'http://deb.debian.org/debian', suite: 'bookworm-updates' },
  { file: '/etc/apt/sources.list', uri: 'http://deb.debian.org/debian-security', suite: 'bookworm-security' },
];
const ready: UpgradeFacts = { freeKb: 10 * 1024 * 1024, held: [], sources: bookworm, broken: [], journal: undefined };
const input = (over: Partial<PreflightInput> = {}, facts: Partial<UpgradeFacts> = {}): PreflightInput => ({
  to: 'debian-13',
  configPath: 'mailrig.yaml',
  configRelease: 'debian-12',
  hostRelease: 'debian-12',
  hostName: 'root@mail',
  drift: [],
  ...over,
  upgrade: { ...ready, ...facts },
});
const problems = (i: PreflightInput) => {
  const d = decide(i);
  return d.kind === 'refuse' ? d.problems.join('\n') : d.kind;
};

describe('upgrade preflight', () => {
  it('starts on a Debian 12 host that matches mailrig.yaml, has room and only Debian sources', () => {
    assert.deepEqual(decide(input()), { kind: 'start' });
  });

  const refused: Array<[string, PreflightInput, RegExp]> = [
    ['a release mailrig does not upgrade to', input({ to: 'debian-14' }), /^--to debian-14: mailrig upgrades to debian-13 only \(from debian-12\)$/],
    ['a host already on Debian 13', input({ hostRelease: 'debian-13' }), /root@mail already runs debian-13: set server.release: debian-13 in mailrig.yaml/],
    ['a config already on Debian 13', input({ configRelease: 'debian-13', hostRelease: 'debian-13' }), /mailrig.yaml: server.release is already debian-13/],
    ['a host that is not Debian 12', input({ hostRelease: undefined }), /root@mail does not run debian-12 \(Debian bookworm\)/],
    ['drift', input({ drift: ['2 files to write'] }), /root@mail differs from mailrig.yaml \(2 files to write\): run mailrig apply first/],
    ['too little disk', input({}, { freeKb: MIN_FREE_KB - 1 }), /has 2047 MB free on \/ or \/var; the upgrade needs 2 GB/],
    ['held packages', input({}, { held: ['dovecot-core'] }), /holds packages \(dovecot-core\): release them \(apt-mark unhold\)/],
    ['packages dpkg left half-done', input({}, { broken: ['rspamd'] }), /not fully installed on root@mail \(rspamd\): run dpkg --configure -a first/],
    [
      'a foreign repository',
      input({}, { sources: [...bookworm, { file: '/etc/apt/sources.list.d/x.list', uri: 'https://repo.example/apt', suite: 'stable' }] }),
      /\/etc\/apt\/sources.list.d\/x.list: https:\/\/repo.example\/apt stable is not a bookworm suite/,
    ],
    ['no bookworm source', input({}, { sources: [] }), /no apt source for bookworm was found/],
  ];
  for (const [what, i, message] of refused) {
    it(`refuses ${what}`, () => assert.match(problems(i), message));
  }

  it('reports every problem at once', () => {
    const text = problems(input({ drift: ['1 file to write'] }, { held: ['postfix'], freeKb: 1 }));
    assert.equal(text.split('\n').length, 3, text);
  });

  it('continues an unfinished upgrade to the same release, whatever the host now reports', () => {
    const journal = { to: 'debian-13', done: ['paused', 'sources'] as const };
    assert.deepEqual(decide(input({ hostRelease: 'debian-13', drift: ['x'] }, { journal: { ...journal, done: [...journal.done] } })), { kind: 'continue' });
    assert.match(problems(input({ to: 'debian-13' }, { journal: { to: 'debian-14', done: [] } })), /unfinished upgrade to debian-14/);
  });
});

describe('upgrade journal', () => {
  it('reads back what the steps wrote, and continues after the last one done', () => {
    const text = journalHeader('debian-13') + journalLine('paused', new Date(0)) + journalLine('sources', new Date(1000));
    const j = parseJournal(text.split('\n'));
    assert.deepEqual(j, { to: 'debian-13', done: ['paused', 'sources'] });
    assert.deepEqual(remaining(j), ['downloaded', 'validated', 'stopped', 'packages', 'applied', 'resumed', 'recorded']);
    assert.deepEqual(remaining(undefined), [...STEPS]);
  });

  it('counts only a prefix of the steps, ignores other lines, and needs its header', () => {
    assert.deepEqual(parseJournal(['to debian-13', 'done sources x', 'done paused x', 'garbage', 'done applied x'])?.done, ['paused', 'sources']);
    assert.equal(parseJournal(['done paused x']), undefined);
    assert.equal(parseJournal([]), undefined);
  });

  it('can undo until the package upgrade starts, not after', () => {
    const j = (done: string[]) => parseJournal(['to debian-13', ...done.map((d) => `done ${d} t`)]);
    assert.equal(pastNoReturn(j([]), 'paused'), false);
    assert.equal(pastNoReturn(j(['paused', 'sources', 'downloaded']), 'validated'), false);
    assert.equal(pastNoReturn(j(['paused', 'sources', 'downloaded', 'validated']), 'stopped'), false);
    assert.equal(pastNoReturn(j(['paused', 'sources', 'downloaded', 'validated', 'stopped']), 'packages'), true);
    assert.equal(pastNoReturn(j(['paused', 'sources', 'downloaded', 'validated', 'stopped', 'packages']), 'resumed'), true);
  });
});

describe('upgrade facts', () => {
  it('parses one-line and deb822 sources, deb entries only', () => {
    const lines = [
      '/etc/apt/sources.list\tdeb http://deb.debian.org/debian bookworm main',
      '/etc/apt/sources.list\tdeb [signed-by=/k.gpg] http://deb.debian.org/debian-security bookworm-security main',
      '/etc/apt/sources.list.d/debian.sources\tTypes: deb',
      '/etc/apt/sources.list.d/debian.sources\tURIs: http://a/debian http://b/debian',
      '/etc/apt/sources.list.d/debian.sources\tSuites: bookworm bookworm-updates',
      '/etc/apt/sources.list.d/src.sources\tTypes: deb-src',
      '/etc/apt/sources.list.d/src.sources\tURIs: http://a/debian',
      '/etc/apt/sources.list.d/src.sources\tSuites: sid',
    ];
    assert.deepEqual(
      parseSources(lines).map((e) => `${e.file.split('/').pop()} ${e.uri} ${e.suite}`),
      [
        'sources.list http://deb.debian.org/debian bookworm',
        'sources.list http://deb.debian.org/debian-security bookworm-security',
        'debian.sources http://a/debian bookworm',
        'debian.sources http://a/debian bookworm-updates',
        'debian.sources http://b/debian bookworm',
        'debian.sources http://b/debian bookworm-updates',
      ],
    );
  });

  it('reads the sections of one round trip', () => {
    const out = [
      '### mailrig-upgrade df', '5000000', '3000000',
      '### mailrig-upgrade held', 'postfix',
      '### mailrig-upgrade sources', '/etc/apt/sources.list\tdeb http://deb.debian.org/debian bookworm main',
      '### mailrig-upgrade audit',
      '### mailrig-upgrade journal', 'to debian-13', 'done paused 2026-12-02T00:00:00Z',
      '### mailrig-upgrade end',
      '### mailrig-facts os', 'ID=debian',
    ].join('\n');
    const f = parseUpgradeFacts(out);
    assert.equal(f.freeKb, 3000000);
    assert.deepEqual(f.held, ['postfix']);
    assert.equal(f.sources.length, 1);
    assert.deepEqual(f.broken, []);
    assert.deepEqual(f.journal, { to: 'debian-13', done: ['paused'] });
  });
});

describe('upgrade scripts', () => {
  it('switches bookworm suites to trixie, in one-line and deb822 files, and nothing else', () => {
    const dir = scratchDir('upgrade-sources');
    mkdirSync(join(dir, 'd'));
    const list = join(dir, 'sources.list');
    const deb822 = join(dir, 'd/debian.sources');
    writeFileSync(list, 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n# bookworm-era note: http://x/bookworm/\n');
    writeFileSync(deb822, 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n');
    // The script without its backup and apt-get lines: only the switch, on scratch files.
    const script = sourcesScript([list, deb822], 'bookworm', 'trixie').split('\n').filter((l) => l.startsWith('sed '))[0] ?? '';
    assert.equal(spawnSync('sh', ['-c', script]).status, 0);
    assert.equal(
      readFileSync(list, 'utf8'),
      'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian-security trixie-security main\n# bookworm-era note: http://x/bookworm/\n',
    );
    assert.equal(readFileSync(deb822, 'utf8'), 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\n');
  });

  it('are valid shell; the package upgrade keeps the old files, asks nothing and starts none of the mail daemons', () => {
    const pkg = packagesScript(['postfix', 'dovecot', 'unbound'], ['unbound']);
    for (const s of [pauseScript(), sourcesScript(['/etc/apt/sources.list'], 'bookworm', 'trixie'), stopScript(['unbound', 'postfix']), pkg]) assert.ok(syntaxOk(s), s);
    assert.match(pkg, /DEBIAN_FRONTEND=noninteractive/);
    assert.match(pkg, /--force-confold/);
    assert.match(pkg, /full-upgrade/);
    assert.match(pkg, /case "\$1" in postfix\|dovecot\|unbound\) exit 101/);
    assert.match(stopScript(['unbound', 'redis-server', 'postfix']), /stop postfix[^\n]*\n[^\n]*stop redis-server[^\n]*\n[^\n]*stop unbound/);
    assert.match(pauseScript(), /smtpd_client_restrictions = defer/);
  });
});

describe('upgrade: the Debian 13 daemons validate before anything is installed', () => {
  it("reads apt's simulation: every package installed or upgraded, as the file name apt keeps", () => {
    const sim = [
      'Reading package lists...',
      'Inst libc6 [2.36-9+deb12u14] (2.41-12+deb13u5 Debian:13.2/stable, Debian-Security:13/stable-security [amd64])',
      'Inst dovecot-core [1:2.3.19.1+dfsg1-2.1+deb12u7] (1:2.4.1+dfsg1-6+deb13u7 Debian:13.2/stable [amd64]) []',
      'Inst libtlsrpt0 (0.5.0-2 Debian:13.2/stable [amd64])',
      'Inst fail2ban [1.0.2-2] (1.1.0-8 Debian:13.2/stable [all])',
      'Conf libc6 (2.41-12+deb13u5 Debian:13.2/stable [amd64])',
      'Remv libfoo1 [1.0-1]',
      'Inst libtlsrpt0 (0.5.0-2 Debian:13.2/stable [amd64])',
    ].join('\n');
    assert.deepEqual(debsOfSimulation(sim), [
      'dovecot-core_1%3a2.4.1+dfsg1-6+deb13u7_amd64.deb',
      'fail2ban_1.1.0-8_all.deb',
      'libc6_2.41-12+deb13u5_amd64.deb',
      'libtlsrpt0_0.5.0-2_amd64.deb',
    ]);
    assert.deepEqual(debsOfSimulation('0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n'), []);
  });

  it('unpacks packages beside the system with its merged-/usr links, and says which one was not downloaded', () => {
    // The tests run on Debian (README: Requirements), where dpkg-deb is part of dpkg.
    assert.equal(spawnSync('dpkg-deb', ['--version']).status, 0, 'dpkg-deb runs');
    const dir = scratchDir('upgrade-unpack');
    const pkg = join(dir, 'pkg');
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    mkdirSync(join(pkg, 'lib/x86_64-linux-gnu'), { recursive: true });
    mkdirSync(join(pkg, 'usr/sbin'), { recursive: true });
    writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: probe\nVersion: 1:2.0-1\nArchitecture: all\nMaintainer: t <t@example.test>\nDescription: probe\n');
    writeFileSync(join(pkg, 'lib/x86_64-linux-gnu/libprobe.so.1'), 'lib\n');
    writeFileSync(join(pkg, 'usr/sbin/probe'), 'bin\n');
    const archives = join(dir, 'archives');
    mkdirSync(archives);
    assert.equal(spawnSync('dpkg-deb', ['--root-owner-group', '--build', pkg, join(archives, 'probe_1%3a2.0-1_all.deb')]).status, 0);
    const out = join(dir, 'unpacked');
    const ok = spawnSync('sh', ['-c', unpackScript(out, ['probe_1%3a2.0-1_all.deb'], archives)], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(join(out, 'usr/sbin/probe'), 'utf8'), 'bin\n');
    if (lstatSync('/lib').isSymbolicLink()) {
      // A bookworm-style /lib path lands under usr/, where the live root's link points.
      assert.ok(lstatSync(join(out, 'lib')).isSymbolicLink());
      assert.ok(existsSync(join(out, 'usr/lib/x86_64-linux-gnu/libprobe.so.1')));
    }
    const missing = spawnSync('sh', ['-c', unpackScript(out, ['absent_1.0_all.deb'], archives)], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /archives\/absent_1\.0_all\.deb was not downloaded/);
  });

  it('downloads what the new plan adds; validates in a root of the new packages over the live one', () => {
    assert.doesNotMatch(simulateScript([]), /install/);
    assert.match(simulateScript(['dovecot-auth-lua']), /--download-only install dovecot-auth-lua[^\n]*\n[^\n]*-s full-upgrade\n[^\n]*-s install dovecot-auth-lua/);
    const plan = { installs: [], changes: [], removals: [], mapBuilds: [], actions: [], tasks: [], purges: [], kept: [] };
    const v = validateScript('/s', plan, ['dovecot', 'postfix'], { unpacked: '/u' });
    assert.ok(syntaxOk(v), v);
    assert.match(v, /mount -t overlay overlay -o "lowerdir=\$lower/);
    assert.match(v, /chroot \/s\/root \/bin\/sh -c/);
    assert.ok(v.indexOf('doveconf -n') > v.indexOf('chroot /s/root'), 'the checks run in the new root');
    assert.doesNotMatch(validateScript('/s', plan, ['dovecot']), /chroot|overlay/);
  });
});

describe('upgrade preflight: the backup', () => {
  const hour = 3600;
  it('without a backup section takes none and warns', () => {
    const d = decideBackup({ configured: false, message: 'no backups configured' });
    assert.equal(d.kind, 'none');
    assert.match(d.message, /no backup: section in mailrig\.yaml/);
  });
  it('a snapshot younger than the limit is enough; one just older, or none, or an unreadable repository is taken first', () => {
    const limit = RECENT_BACKUP_MS / 1000;
    const cases: [number | undefined, string][] = [
      [0, 'recent'],
      [3 * hour, 'recent'],
      [limit - 1, 'recent'],
      [limit, 'take'],
      [limit + 1, 'take'],
      [5 * 24 * hour, 'take'],
      [undefined, 'take'],
    ];
    for (const [ageSeconds, kind] of cases) {
      const d = decideBackup({ configured: true, message: 'last backup …', ...(ageSeconds === undefined ? {} : { ageSeconds }) });
      assert.equal(d.kind, kind, `age ${ageSeconds}`);
    }
  });
  it('says why it takes one', () => {
    assert.match(decideBackup({ configured: true, ageSeconds: 30 * hour, message: 'x' }).message, /newest backup is 30 h old, more than 24 h: the upgrade takes one first/);
    assert.match(decideBackup({ configured: true, message: 'no backup yet in /var/backups/r' }).message, /^no backup yet in \/var\/backups\/r: the upgrade takes one first/);
  });
});
