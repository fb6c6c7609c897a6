// A primary's rspamd judges the mail its backup MX passes on by the server that sent it to the
// backup: the rendered rspamd files of a primary with a backup MX, laid over each release's package
// in a copy of the cached root filesystem, rspamd started there (Hyperscan off) with a knotd beside
// it that serves the sender's SPF record (only the original sending server's address may send for
// sender.example.org). The same message, with the backup's Received: header naming that server, is
// scanned as coming from:
// - the backup MX: SPF passes for the address in the Received: header, the relay symbol is
//   inserted (score 0), and greylisting leaves the message alone for it (the backup greylisted it);
// - the backup MX, its Received: header naming a server SPF does not allow: SPF fails for that
//   server, so the verdict follows the header, not the connection;
// - another internet address: SPF fails for that address; no relay symbol, greylisting as usual;
// - loopback (local, like the backup, but not a backup MX): no relay symbol, SPF not asked.
// Needs root (namespaces, chroot, overlayfs); the root filesystems are built once and cached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { BACKUP_MX_RELAY_SYMBOL } from '../../src/render/rspamd.js';
import { writeTree } from '../../src/render/tree.js';
import { render } from '../../src/services/index.js';
import { configFrom, fixtureKeys, PROJECT_ROOT, TEST_HASH } from '../support/fixtures.js';
import { config as knotConfig, KDIG, KNOTD, type KnotZone } from '../support/knot.js';
import { CODENAMES } from '../support/render-cases.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, chroot, overlayfs)' : false;

const BACKUP = '198.51.100.20';
/** The server that sent the message to the backup MX: the only one sender.example.org's SPF allows. */
const ORIGIN = '192.0.2.77';
/** A server SPF does not allow. */
const FORBIDDEN = '192.0.2.66';
/** Some other internet address, not a backup MX. */
const OTHER = '198.51.100.99';
const SENDER = 'carol@sender.example.org';

function primary(release: Release) {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release },
    servers: [{ name: 'mx2', role: 'backup-mx', hostname: 'mx2.example.net', ipv4: BACKUP, ipv6: '2001:db8::20', ssh: `root@${BACKUP}`, release }],
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    spam: { greylisting: true },
  });
}

/** The message as the primary's smtpd gets it from the backup MX: the backup's hop names `client`. */
function message(id: string, client: string): string {
  return [
    `Received: from mx2.example.net (mx2.example.net [${BACKUP}])`,
    '\tby mail.example.com (Postfix) with ESMTPS id 4Q1bC20xyz',
    '\tfor <alice@example.com>; Wed, 02 Dec 2026 10:05:00 +0000 (UTC)',
    `Received: from mx.sender.example.org (mx.sender.example.org [${client}])`,
    '\tby mx2.example.net (Postfix) with ESMTPS id 4Q1bB10abc',
    '\tfor <alice@example.com>; Wed, 02 Dec 2026 10:00:00 +0000 (UTC)',
    `From: ${SENDER}`,
    'To: alice@example.com',
    `Subject: ${id}`,
    `Message-Id: <${id}@sender.example.org>`,
    'Date: Wed, 02 Dec 2026 09:59:58 +0000',
    '',
    'Held by the backup MX while the primary was down.',
    '',
  ].join('\n');
}

interface Scan {
  id: string;
  /** The address the message is scanned as coming from. */
  ip: string;
  /** The sending server the backup's Received: header names. */
  client: string;
  /** The SPF symbol, and the mechanism it names (the address SPF was asked for), or none at all. */
  spf: { symbol: 'R_SPF_ALLOW' | 'R_SPF_FAIL'; option: string } | null;
  relayed: boolean;
}

const SCANS: Scan[] = [
  { id: 'from-backup', ip: BACKUP, client: ORIGIN, spf: { symbol: 'R_SPF_ALLOW', option: `+ip4:${ORIGIN}` }, relayed: true },
  { id: 'from-backup-forbidden', ip: BACKUP, client: FORBIDDEN, spf: { symbol: 'R_SPF_FAIL', option: '-all' }, relayed: true },
  { id: 'from-other', ip: OTHER, client: ORIGIN, spf: { symbol: 'R_SPF_FAIL', option: '-all' }, relayed: false },
  { id: 'from-loopback', ip: '127.0.0.1', client: ORIGIN, spf: null, relayed: false },
];

// knotd on 127.0.0.1:53 (where rspamd asks, see local.d/options.inc), then rspamd in the overlay,
// one rspamc scan per case through the controller, and rspamd's log lines of the scans.
const SESSION = `set -eu
mount -t tmpfs tmpfs "$W"
mkdir "$W/u" "$W/w" "$W/m"
mount -t overlay overlay -o "lowerdir=$R,upperdir=$W/u,workdir=$W/w" "$W/m"
mount -t tmpfs tmpfs "$W/m/tmp"; mount --bind /dev "$W/m/dev"; mount -t proc proc "$W/m/proc"
cp -r "$TREE/etc/rspamd/." "$W/m/etc/rspamd/"
cp "$CASES"/*.eml "$W/m/tmp/"
echo "nameserver 127.0.0.1" > "$W/m/etc/resolv.conf"
echo "disable_hyperscan = true;" >> "$W/m/etc/rspamd/local.d/options.inc"
chroot "$W/m" ip link set lo up
"$KNOTD" -c "$KNOT/knot.conf" > "$W/knotd.log" 2>&1 &
i=0; until [ -n "$("$KDIG" @127.0.0.1 +short +norecurse sender.example.org TXT 2>/dev/null)" ]; do
  i=$((i+1)); [ $i -gt 300 ] && { cat "$W/knotd.log"; exit 3; }; sleep 0.1
done
echo "=== configtest"; chroot "$W/m" rspamadm configtest 2>&1 || echo "configtest exit $?"
mkdir -p "$W/m/run/rspamd"; chroot "$W/m" chown _rspamd:_rspamd /run/rspamd
chroot "$W/m" rspamd -f -u _rspamd -g _rspamd > "$W/rspamd.out" 2>&1 &
# The host's ss sees this network namespace: one process per look while rspamd starts, not three.
i=0; until [ -n "$(ss -Hltn 'sport = :11334')" ]; do
  i=$((i+1)); [ $i -gt 1800 ] && { tail -30 "$W/rspamd.out"; tail -30 "$W/m/var/log/rspamd/rspamd.log"; exit 3; }; sleep 0.1
done
while read -r id ip; do
  echo "=== $id"; chroot "$W/m" rspamc -h 127.0.0.1:11334 --ip "$ip" --from "$SENDER" --rcpt alice@example.com --helo mx2.example.net --hostname mx2.example.net -j symbols "/tmp/$id.eml"
done < "$CASES/cases.txt"
echo "=== log"; grep -E 'rspamd_task_write_log|external_relay|greylisting' "$W/m/var/log/rspamd/rspamd.log" || true
`;

function zones(): KnotZone[] {
  const zone = (origin: string, records: string[]): KnotZone => ({
    origin,
    text: [`$ORIGIN ${origin === '.' ? '.' : `${origin}.`}`, '$TTL 60', '@ SOA ns hostmaster 1 3600 600 86400 60', '@ NS ns', 'ns A 127.0.0.1', ...records, ''].join('\n'),
  });
  // The root, so every other name rspamd asks (blocklists, reverse names) is NXDOMAIN, not refused.
  return [zone('.', []), zone('sender.example.org', [`@ TXT "v=spf1 ip4:${ORIGIN} -all"`])];
}

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`a primary's rspamd and its backup MX's Received: header (${CODENAMES[release]})`, { skip }, () => {
    let rootfs = '';
    before(() => {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', CODENAMES[release] ?? release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, r.stderr);
      rootfs = r.stdout.trim().split('\n').pop() ?? '';
    });

    it("mail from the backup MX is judged by the sending server in the backup's hop; from any other address, as it comes", () => {
      const tree = mkdtempSync(join(tmpdir(), 'mailrig-relay-tree-'));
      const cases = mkdtempSync(join(tmpdir(), 'mailrig-relay-cases-'));
      const work = mkdtempSync(join(tmpdir(), 'mailrig-relay-work-'));
      const knot = mkdtempSync(join(tmpdir(), 'mailrig-relay-knot-'));
      try {
        writeTree(tree, render({ config: primary(release), keys: fixtureKeys(['example.com']), release }));
        const z = zones();
        mkdirSync(join(knot, 'zones'));
        mkdirSync(join(knot, 'db'));
        for (const one of z) writeFileSync(join(knot, 'zones', `${one.origin}.zone`), one.text);
        writeFileSync(join(knot, 'knot.conf'), knotConfig(knot, '127.0.0.1', 53, { zones: z }));
        writeFileSync(join(cases, 'cases.txt'), SCANS.map((s) => `${s.id} ${s.ip}\n`).join(''));
        for (const s of SCANS) writeFileSync(join(cases, `${s.id}.eml`), message(s.id, s.client));
        const lock = join(rootfs, '..', `.${CODENAMES[release]}.lock`);
        const r = spawnSync('flock', ['-s', lock, 'unshare', '--mount', '--pid', '--fork', '--net', '--kill-child', '--', 'sh', '-c', SESSION], {
          encoding: 'utf8',
          env: { ...process.env, R: rootfs, W: work, TREE: tree, CASES: cases, KNOT: knot, KNOTD, KDIG, SENDER, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
          timeout: 600_000,
          maxBuffer: 64 << 20,
        });
        assert.equal(r.status, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
        const part = (name: string) => r.stdout.split(`=== ${name}\n`)[1]?.split('\n=== ')[0] ?? '';
        const configtest = part('configtest');
        assert.match(configtest, /syntax OK/, configtest);
        assert.doesNotMatch(configtest, /invalid config|DISABLED|external_relay/i, configtest);
        const log = part('log');
        assert.doesNotMatch(log, /external_relay is disabled|config schema error/, log);
        for (const s of SCANS) {
          const result = JSON.parse(part(s.id)) as { symbols?: Record<string, { score: number; options?: string[] }> };
          const symbols = result.symbols ?? {};
          const spf = Object.keys(symbols).filter((n) => n.startsWith('R_SPF_'));
          const what = `${s.id} (from ${s.ip}, Received: names ${s.client}): ${JSON.stringify(symbols)}\n${log}`;
          if (s.spf) {
            assert.deepEqual(spf, [s.spf.symbol], what);
            // The mechanism that matched; rspamd marks it ":c" when the record came from its cache.
            const options = symbols[s.spf.symbol]?.options ?? [];
            assert.deepEqual(options.map((o) => o.replace(/:c$/, '')), [s.spf.option], what);
          } else {
            assert.deepEqual(spf, [], `SPF not asked: ${what}`);
          }
          if (s.relayed) assert.equal(symbols[BACKUP_MX_RELAY_SYMBOL]?.score, 0, what);
          else assert.equal(symbols[BACKUP_MX_RELAY_SYMBOL], undefined, what);
        }
        // Greylisting skipped the relayed messages for the relay symbol, and only those (each log line
        // carries its scan's tag; no Redis here, so the others go no further).
        const tags = new Map([...log.matchAll(/<(\w+)>; csession; rspamd_task_write_log: id: <([\w-]+)@/g)].map((m) => [m[2], m[1]]));
        const skipped = new Set([...log.matchAll(new RegExp(`<(\\w+)>; .*skip greylisting as we have found symbol ${BACKUP_MX_RELAY_SYMBOL}`, 'g'))].map((m) => m[1]));
        for (const s of SCANS) assert.equal(skipped.has(tags.get(s.id) ?? '-'), s.relayed, `${s.id}: greylisting skipped for the relay symbol\n${log}`);
        // rspamd's own log line of each scan names the address it judged.
        assert.match(log, new RegExp(`id: <from-backup@sender\\.example\\.org>, ip: ${ORIGIN.replace(/\./g, '\\.')},`), log);
      } finally {
        for (const d of [tree, cases, work, knot]) rmSync(d, { recursive: true, force: true });
      }
    });
  });
}
