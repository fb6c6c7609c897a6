// rspamd's blocklist settings as each release's own rspamd reads them: the rendered rspamd files are
// laid over the package's in a copy of the cached root filesystem, then `rspamadm configtest` must
// pass without disabling a list (3.4 drops a list whose rule has a key it does not know, and still
// says "syntax OK"), and `rspamadm configdump` shows the merged result: Spamhaus's error answers
// (127.255.255.252, .254, .255; DBL's 127.0.1.255) reach only symbols of score 0, never a listing
// symbol, matched the way each release matches answers (3.4: always as Lua patterns; 3.12: as equal
// strings unless the rule says luapattern); the DQS key's zones replace the public mirrors; each
// spam.blocklists zone lists on 127.0.0.x with its score and errs on 127.255.255.x with none.
// Then rspamd itself, started in that copy (Hyperscan off, so it starts in seconds) with a real
// knotd beside it serving the lists' zones (the answers of the test's table; every other name
// NXDOMAIN), scans one message per answer: each answer inserts the symbol it maps to, with its
// score, and rspamd's log line names it.
// Needs root (namespaces, chroot, overlayfs); the root filesystems are built once and cached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { spamhausZones, type Config, type Release } from '../../src/config/model.js';
import { writeTree } from '../../src/render/tree.js';
import { render } from '../../src/services/index.js';
import { blocklistName } from '../../src/check/deliverability/blocklists.js';
import { configFrom, fixtureKeys, PROJECT_ROOT } from '../support/fixtures.js';
import { config as knotConfig, KDIG, KNOTD, type KnotZone } from '../support/knot.js';
import { CODENAMES } from '../support/render-cases.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, chroot, overlayfs)' : false;

const DQS_KEY = 'mailrigtestkey0123456789ab';
const ERRORS = { zen: ['127.255.255.252', '127.255.255.254', '127.255.255.255'], dbl: ['127.0.1.255', '127.255.255.252', '127.255.255.254', '127.255.255.255'] };

function config(release: Release, spam: Record<string, unknown>): Config {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10', ssh: 'root@203.0.113.10', release },
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: {}, aliases: {} } },
    spam,
  });
}

// Inside a private mount namespace: an overlay of the cached root filesystem (the cache is never
// written), with the rendered rspamd files copied over the package's.
const OVERLAY = `
set -eu
mount -t tmpfs tmpfs "$W"
mkdir "$W/u" "$W/w" "$W/m"
mount -t overlay overlay -o "lowerdir=$R,upperdir=$W/u,workdir=$W/w" "$W/m"
mount -t tmpfs tmpfs "$W/m/tmp"; mount --bind /dev "$W/m/dev"; mount -t proc proc "$W/m/proc"
cp -r "$TREE/etc/rspamd/." "$W/m/etc/rspamd/"
`;

// Then rspamadm, each output framed.
const SESSION = `${OVERLAY}echo "=== configtest"; chroot "$W/m" rspamadm configtest 2>&1 || echo "configtest exit $?"
echo "=== rbl"; chroot "$W/m" rspamadm configdump -j rbl 2>/dev/null
echo "=== group"; chroot "$W/m" rspamadm configdump -j group 2>/dev/null
`;

interface Rule {
  rbl: string;
  symbol?: string;
  returncodes?: Record<string, string | string[]>;
  returncodes_matcher?: string;
  symbols_prefixes?: Record<string, string>;
  unknown?: boolean;
  exclude_private_ips?: boolean;
}
interface Dump {
  configtest: string;
  rbls: Record<string, Rule>;
  weights: Map<string, number>;
}

function readDump(rootfs: string, release: Release, cfg: Config): Dump {
  const tree = mkdtempSync(join(tmpdir(), 'mailrig-rbl-tree-'));
  const work = mkdtempSync(join(tmpdir(), 'mailrig-rbl-work-'));
  try {
    writeTree(tree, render({ config: cfg, keys: fixtureKeys(['example.com']), release }));
    const lock = join(rootfs, '..', `.${CODENAMES[release]}.lock`);
    const r = spawnSync('flock', ['-s', lock, 'unshare', '--mount', '--pid', '--fork', '--net', '--kill-child', '--', 'sh', '-c', SESSION], {
      encoding: 'utf8',
      env: { ...process.env, R: rootfs, W: work, TREE: tree, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      timeout: 300_000,
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const part = (name: string) => r.stdout.split(`=== ${name}\n`)[1]?.split('\n=== ')[0] ?? '';
    const rbl = JSON.parse(part('rbl')) as { rbl?: { rbls: Record<string, Rule> }; rbls?: Record<string, Rule> };
    // 3.12 prints its groups as several JSON documents one after another (one per `group` block).
    const docs = JSON.parse(`[${part('group').trim().replace(/\n\}\n\{/g, '\n},\n{')}]`) as Array<Record<string, unknown>>;
    const weights = new Map<string, number>();
    for (const doc of docs) {
      const groups = (doc.group ?? doc) as Record<string, { symbols?: Record<string, { weight?: number }> }>;
      for (const g of Object.values(groups)) for (const [s, v] of Object.entries(g.symbols ?? {})) if (v.weight !== undefined) weights.set(s, v.weight);
    }
    return { configtest: part('configtest'), rbls: (rbl.rbl ?? rbl).rbls ?? {}, weights };
  } finally {
    rmSync(tree, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** A Lua pattern (the subset rspamd's shipped answers use: %. %d [..] + * -) as a RegExp. */
function luaPattern(p: string): RegExp {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '%') {
      const n = p[++i] as string;
      out += n === 'd' ? '\\d' : n === 'a' ? '[A-Za-z]' : `\\${n}`;
    } else if (c === '.') out += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i);
      out += p.slice(i, end + 1).replace(/%d/g, '\\d');
      i = end;
    } else if (c === '-') out += '*?';
    else if ('+*?'.includes(c)) out += c;
    else out += c.replace(/[\\^$|(){}]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

let dumped: Record<string, Rule> = {};

/** The symbols a rule inserts for an answer, matched as the release matches (see rbl.lua). */
function symbolsFor(rule: Rule, answer: string, release: Release): string[] {
  const base = rule.symbol ?? Object.entries(dumped).find(([, r]) => r === rule)?.[0];
  const asPattern = release === 'debian-12' || rule.returncodes_matcher === 'luapattern';
  const hits = Object.entries(rule.returncodes ?? {})
    .filter(([, codes]) => [codes].flat().some((c) => (asPattern ? luaPattern(c).test(answer) : c === answer)))
    .map(([s]) => s);
  // An answer no code matches inserts the rule's own symbol (its name when it sets none), unless
  // the rule says unknown = false (the package's default_unknown is true).
  const found = hits.length ? hits : rule.unknown !== false && base ? [base] : [];
  const prefixes = Object.values(rule.symbols_prefixes ?? {});
  return prefixes.length ? found.flatMap((s) => prefixes.map((p) => `${p}_${s}`)) : found;
}

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`rspamd blocklists (${CODENAMES[release]})`, { skip }, () => {
    let rootfs = '';
    before(() => {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', CODENAMES[release] ?? release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, r.stderr);
      rootfs = r.stdout.trim().split('\n').pop() ?? '';
    });

    const cases = [
      { name: 'the public mirrors, no other list', spam: {} },
      { name: 'a DQS key and two more blocklists', spam: { spamhaus_dqs_key: DQS_KEY, blocklists: [{ zone: 'bl.example.net', score: 6 }, { zone: 'rbl.test', score: 2.5 }] } },
    ];
    for (const c of cases) {
      it(`${c.name}: accepted; error answers score nothing; each list as configured`, () => {
        const cfg = config(release, c.spam);
        const dump = readDump(rootfs, release, cfg);
        dumped = dump.rbls;
        assert.match(dump.configtest, /syntax OK/, dump.configtest);
        assert.doesNotMatch(dump.configtest, /invalid config|DISABLED/, dump.configtest);

        const zones = spamhausZones(cfg.spam.spamhausDqsKey);
        const zen = dump.rbls.spamhaus;
        const dbl = dump.rbls.DBL;
        assert.ok(zen && dbl, Object.keys(dump.rbls).join(', '));
        assert.equal(zen.rbl, zones.zen);
        assert.equal(dbl.rbl, zones.dbl);
        for (const [rule, answers, listing] of [
          [zen, ERRORS.zen, ['127.0.0.2', '127.0.0.4', '127.0.0.10']],
          [dbl, ERRORS.dbl, ['127.0.1.2', '127.0.1.4']],
        ] as const) {
          for (const a of answers) {
            const symbols = symbolsFor(rule, a, release);
            assert.ok(symbols.length > 0, `${rule.rbl} ${a}: some symbol (an error is reported, not dropped)`);
            for (const s of symbols) assert.equal(dump.weights.get(s), 0, `${rule.rbl} ${a} → ${s} scores 0`);
          }
          for (const a of listing) {
            const symbols = symbolsFor(rule, a, release);
            assert.ok(symbols.some((s) => (dump.weights.get(s) ?? 0) > 0), `${rule.rbl} ${a} still lists (${symbols.join(', ')})`);
          }
        }

        const mine = Object.entries(dump.rbls).filter(([name]) => name.startsWith('MAILRIG_RBL_'));
        assert.deepEqual(mine.map(([, r]) => r.rbl).sort(), cfg.spam.blocklists.map((b) => b.zone).sort());
        for (const b of cfg.spam.blocklists) {
          const rule = dump.rbls[b.symbol];
          assert.ok(rule);
          assert.equal(rule.returncodes_matcher, release === 'debian-12' ? undefined : 'luapattern');
          assert.deepEqual(symbolsFor(rule, '127.0.0.2', release), [b.symbol]);
          assert.deepEqual(symbolsFor(rule, '127.0.0.10', release), [b.symbol]);
          assert.deepEqual(symbolsFor(rule, '127.255.255.254', release), [b.errorSymbol]);
          assert.deepEqual(symbolsFor(rule, '127.0.1.2', release), [], 'other answers are ignored');
          assert.equal(dump.weights.get(b.symbol), b.score);
          assert.equal(dump.weights.get(b.errorSymbol), 0);
        }
      });
    }
  });
}

// knotd (the host's, its files in $KNOT) in the same network namespace as rspamd, on 127.0.0.1:53,
// serving every zone of $KNOT/zones.txt before rspamd starts in the overlay (see SESSION); then one
// scan per case; rspamd's log lines of the scans and knotd's log at the end.
const SCANS = `${OVERLAY}cp "$CASES"/*.eml "$W/m/tmp/"
echo "nameserver 127.0.0.1" > "$W/m/etc/resolv.conf"
echo "disable_hyperscan = true;" >> "$W/m/etc/rspamd/local.d/options.inc"
chroot "$W/m" ip link set lo up
"$KNOTD" -c "$KNOT/knot.conf" > "$W/knotd.log" 2>&1 &
while read -r zone; do
  i=0; until [ -n "$("$KDIG" @127.0.0.1 +short +norecurse "$zone" SOA 2>/dev/null)" ]; do
    i=$((i+1)); [ $i -gt 300 ] && { cat "$W/knotd.log"; exit 3; }; sleep 0.1
  done
done < "$KNOT/zones.txt"
mkdir -p "$W/m/run/rspamd"; chroot "$W/m" chown _rspamd:_rspamd /run/rspamd
chroot "$W/m" rspamd -f -u _rspamd -g _rspamd > "$W/rspamd.out" 2>&1 &
# The host's ss sees this network namespace: one process per look while rspamd starts, not three.
i=0; until [ -n "$(ss -Hltn 'sport = :11334')" ]; do
  i=$((i+1)); [ $i -gt 1800 ] && { tail -30 "$W/rspamd.out"; tail -30 "$W/m/var/log/rspamd/rspamd.log"; exit 3; }; sleep 0.1
done
while read -r id ip; do
  # A HELO and a client host name, as Postfix passes them: rspamd 3.4 stops a list's checks at a
  # missing one, before the URLs.
  # The controller scans (there is no normal worker).
  echo "=== $id"; chroot "$W/m" rspamc -h 127.0.0.1:11334 --ip "$ip" --helo mx.sender.example.org --hostname mx.sender.example.org -j symbols "/tmp/$id.eml"
done < "$CASES/cases.txt"
echo "=== log"; grep 'rspamd_task_write_log' "$W/m/var/log/rspamd/rspamd.log" || true
echo "=== knotd"; cat "$W/knotd.log"
echo "=== monitored"; grep -i 'monitored' "$W/m/var/log/rspamd/rspamd.log" | tail -40 || true
`;

interface Scan {
  id: string;
  ip: string;
  /** A URL in the body, for DBL. */
  url?: string;
  /** The query name and what knotd answers (A records). */
  answers: Record<string, string[]>;
  /** The symbol the answer must insert, and its score (exactly, or "more than 0" for Spamhaus's listings). */
  symbol: string;
  score: number | 'positive';
}

function scanCases(cfg: Config): Scan[] {
  const zones = spamhausZones(cfg.spam.spamhausDqsKey);
  const list = cfg.spam.blocklists[0];
  assert.ok(list);
  const ip = (n: number) => `198.51.100.${n}`;
  const zen = (n: number, code: string, symbol: string, score: Scan['score']): Scan => ({ id: `zen-${code}`, ip: ip(n), answers: { [blocklistName(ip(n), zones.zen)]: [code] }, symbol, score });
  const dbl = (n: number, code: string, symbol: string, score: Scan['score']): Scan => {
    const domain = `dbl-case-${n}.com`;
    return { id: `dbl-${code}`, ip: ip(n), url: `http://${domain}/`, answers: { [`${domain}.${zones.dbl}`]: [code] }, symbol, score };
  };
  const mine = (n: number, code: string, symbol: string, score: number): Scan => ({ id: `list-${code}`, ip: ip(n), answers: { [blocklistName(ip(n), list.zone)]: [code] }, symbol, score });
  return [
    zen(2, '127.0.0.2', 'RBL_SPAMHAUS_SBL', 'positive'),
    zen(3, '127.255.255.252', 'RBL_SPAMHAUS_BLOCKED_TYPO', 0),
    zen(4, '127.255.255.254', 'RBL_SPAMHAUS_BLOCKED_OPENRESOLVER', 0),
    zen(5, '127.255.255.255', 'RBL_SPAMHAUS_BLOCKED', 0),
    dbl(10, '127.0.1.2', 'DBL_SPAM', 'positive'),
    dbl(11, '127.0.1.255', 'DBL_PROHIBIT', 0),
    dbl(12, '127.255.255.252', 'DBL_BLOCKED_TYPO', 0),
    dbl(13, '127.255.255.254', 'DBL_BLOCKED_OPENRESOLVER', 0),
    dbl(14, '127.255.255.255', 'DBL_BLOCKED', 0),
    mine(20, '127.0.0.2', list.symbol, list.score),
    mine(21, '127.0.0.10', list.symbol, list.score),
    mine(22, '127.255.255.254', list.errorSymbol, 0),
    // A sender with a private address (a lab network's) is asked too: rspamd skips only the
    // addresses of local_addrs, which mailrig sets to loopback and the server's own addresses.
    { id: 'list-private', ip: '10.231.5.1', answers: { [blocklistName('10.231.5.1', list.zone)]: ['127.0.0.2'] }, symbol: list.symbol, score: list.score },
  ];
}

/**
 * knotd's zones for the scans: one per list (Spamhaus's DQS zones, the configured blocklists) with
 * the answers of the cases under it, any other name in it NXDOMAIN (rspamd's monitoring asks
 * 1.0.0.127.<zone> and wants NXDOMAIN); and the root zone, so every other name rspamd asks (the
 * package's other lists, SPF) is NXDOMAIN too rather than refused.
 */
function knotZones(cfg: Config, scans: Scan[]): KnotZone[] {
  const zones = spamhausZones(cfg.spam.spamhausDqsKey);
  const lists = [zones.zen, zones.dbl, ...cfg.spam.blocklists.map((b) => b.zone)];
  const answers = scans.flatMap((s) => Object.entries(s.answers));
  for (const [name] of answers) assert.ok(lists.some((z) => name.endsWith(`.${z}`)), `${name}: under none of ${lists.join(', ')}`);
  const zone = (origin: string, records: Array<[string, string[]]>): KnotZone => ({
    origin,
    text: [
      `$ORIGIN ${origin === '.' ? '.' : `${origin}.`}`,
      '$TTL 60',
      '@ SOA ns hostmaster 1 3600 600 86400 60',
      '@ NS ns',
      'ns A 127.0.0.1',
      ...records.flatMap(([name, values]) => values.map((v) => `${name}. A ${v}`)),
      '',
    ].join('\n'),
  });
  return [zone('.', []), ...lists.map((z) => zone(z, answers.filter(([name]) => name.endsWith(`.${z}`))))];
}

/** Symbols of blocklists (Spamhaus's and ours) with a score above 0 in one scan. */
const LISTING = /^(RBL_|RECEIVED_|DBL|MAILRIG_RBL_)/;

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`rspamd blocklists at work (${CODENAMES[release]})`, { skip }, () => {
    let rootfs = '';
    before(() => {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', CODENAMES[release] ?? release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, r.stderr);
      rootfs = r.stdout.trim().split('\n').pop() ?? '';
    });

    it('each answer inserts the symbol it maps to: listings score, error answers score 0 (DQS zones, one more list, a private sender)', () => {
      const cfg = config(release, { spamhaus_dqs_key: DQS_KEY, blocklists: [{ zone: 'rbl.test', score: 7 }] });
      const scans = scanCases(cfg);
      const tree = mkdtempSync(join(tmpdir(), 'mailrig-rbl-tree-'));
      const cases = mkdtempSync(join(tmpdir(), 'mailrig-rbl-cases-'));
      const work = mkdtempSync(join(tmpdir(), 'mailrig-rbl-work-'));
      const knot = mkdtempSync(join(tmpdir(), 'mailrig-rbl-knot-'));
      try {
        writeTree(tree, render({ config: cfg, keys: fixtureKeys(['example.com']), release }));
        const zones = knotZones(cfg, scans);
        mkdirSync(join(knot, 'zones'));
        mkdirSync(join(knot, 'db'));
        for (const z of zones) writeFileSync(join(knot, 'zones', `${z.origin}.zone`), z.text);
        writeFileSync(join(knot, 'zones.txt'), zones.map((z) => `${z.origin}\n`).join(''));
        writeFileSync(join(knot, 'knot.conf'), knotConfig(knot, '127.0.0.1', 53, { zones }));
        writeFileSync(join(cases, 'cases.txt'), scans.map((s) => `${s.id} ${s.ip}\n`).join(''));
        for (const s of scans) {
          const body = s.url ? `See ${s.url} for the offer.\n` : 'Hello.\n';
          writeFileSync(join(cases, `${s.id}.eml`), `From: sender@example.org\nTo: alice@example.com\nSubject: ${s.id}\nMessage-Id: <${s.id}@example.org>\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n\n${body}`);
        }
        const lock = join(rootfs, '..', `.${CODENAMES[release]}.lock`);
        const r = spawnSync('flock', ['-s', lock, 'unshare', '--mount', '--pid', '--fork', '--net', '--kill-child', '--', 'sh', '-c', SCANS], {
          encoding: 'utf8',
          env: {
            ...process.env,
            R: rootfs,
            W: work,
            TREE: tree,
            CASES: cases,
            KNOT: knot,
            KNOTD,
            KDIG,
            PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          },
          timeout: 600_000,
          maxBuffer: 64 << 20,
        });
        assert.equal(r.status, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
        const part = (name: string) => r.stdout.split(`=== ${name}\n`)[1]?.split('\n=== ')[0] ?? '';
        for (const s of scans) {
          const result = JSON.parse(part(s.id)) as { symbols?: Record<string, { score: number }> };
          const symbols = result.symbols ?? {};
          const got = symbols[s.symbol];
          assert.ok(got, `${s.id} (${s.ip}): ${s.symbol} inserted; got ${Object.keys(symbols).filter((x) => LISTING.test(x)).join(', ') || 'no blocklist symbol'}\nknotd's log:\n${part('knotd')}\nrspamd's monitoring:\n${part('monitored')}`);
          if (s.score === 'positive') assert.ok(got.score > 0, `${s.id}: ${s.symbol} scores (${got.score})`);
          else assert.equal(got.score, s.score, `${s.id}: ${s.symbol} scores ${s.score}`);
          const others = Object.entries(symbols).filter(([name, v]) => name !== s.symbol && LISTING.test(name) && v.score > 0);
          assert.deepEqual(others, [], `${s.id}: no other blocklist symbol scores`);
        }
        const log = part('log');
        const listed = scans.find((s) => s.symbol === cfg.spam.blocklists[0]?.symbol);
        assert.match(log, new RegExp(`\\b${listed?.symbol}\\(`), "rspamd's log line of the scan names the list's symbol");
      } finally {
        for (const d of [tree, cases, work, knot]) rmSync(d, { recursive: true, force: true });
      }
    });
  });
}
