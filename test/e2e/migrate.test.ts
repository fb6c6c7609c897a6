// mailrig migrate against a real "old server": a second host from the provisioned image holds 1,000
// messages in nested folders (some with non-ASCII names) with flags and internal dates, written as a
// Maildir (no SMTP); its certificate is for old.example.com from a CA only this test knows, trusted
// with --ca-file. After migrate, the folders, counts, flags and internal dates match over IMAP; a run
// stopped half-way and run again leaves no duplicates; 10 new messages on the old side come over as
// exactly 10 more.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { ImapFlow } from 'imapflow';
import { show, type Workspace } from '../support/e2e.js';
import { TEST_PASSWORD } from '../support/fixtures.js';
import { CONFIG_RELEASE, PROVISIONED, releasesUnderTest, startProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts, type TestHost } from '../support/testhost.js';

/** IMAP folder (separator ".") → messages in it; 1,000 in all. */
const FOLDERS: Array<[string, number]> = [
  ['INBOX', 300],
  ['Archive', 100],
  ['Archive.2024', 150],
  ['Archive.2024.Q1', 100],
  ['Reisen', 50],
  ['Reisen.Köln', 120],
  ['Ελληνικά', 80],
  ['Projekte.Überblick', 100],
];
const TOTAL = FOLDERS.reduce((n, [, c]) => n + c, 0);
/** Lines of 74 characters in every generated body. */
const PAD_LINES = 28;

/** Modified UTF-7 (RFC 3501) of one mailbox name segment, as Dovecot names Maildir++ directories. */
function mutf7(text: string): string {
  return text.replace(/[^\x20-\x7e]+|&/g, (run) => {
    if (run === '&') return '&-';
    const utf16 = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) utf16.writeUInt16BE(run.charCodeAt(i), i * 2);
    return `&${utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
  });
}


/** A shell script writing messages (every 5th flagged, every 7th answered, every 3rd seen) first..first+count-1 of `folder` into a Maildir, with mtime = internal date. */
function maildirScript(home: string, folder: string, first: number, count: number): string {
  const dir = folder === 'INBOX' ? `${home}/Maildir` : `${home}/Maildir/.${folder.split('.').map(mutf7).join('.')}`;
  return [
    `d='${dir}'`,
    'mkdir -p "$d/cur" "$d/new" "$d/tmp"',
    // Bodies of about 2 KB, so that the messages' bytes outweigh the protocol's (see the byte cap below).
    `pad=$(for n in $(seq 1 ${PAD_LINES}); do printf '%s\\n' '${'0123456789abcdef'.repeat(4)}0123456789'; done)`,
    folder === 'INBOX' ? '' : 'touch "$d/maildirfolder"',
    `i=${first}`,
    `while [ $i -lt ${first + count} ]; do`,
    '  t=$((1600000000 + i * 3600))',
    '  case $((i % 5)) in 0) f=F ;; *) f= ;; esac',
    '  case $((i % 7)) in 0) f="${f}R" ;; esac',
    '  case $((i % 3)) in 0) f="${f}S" ;; esac',
    `  printf 'From: sender%s@old.example\\nTo: alice@example.com\\nSubject: message %s\\nMessage-ID: <m%s@old.example>\\nDate: %s\\n\\nBody of message %s in ${folder.replace(/'/g, '')}.\\n%s\\n' "$i" "$i" "$i" "$(date -u -R -d @$t)" "$i" "$pad" > "$d/cur/$t.m$i.old:2,$f"`,
    '  touch -d @$t "$d/cur/$t.m$i.old:2,$f"',
    '  i=$((i + 1))',
    'done',
  ].join('\n');
}

interface Snapshot {
  folders: string[];
  /** folder → message-id → "flags|internal date" */
  messages: Map<string, Map<string, string>>;
}

async function snapshot(opts: { host: string; user: string; password: string; ca: string; servername: string }): Promise<Snapshot> {
  const client = new ImapFlow({ host: opts.host, port: 993, secure: true, auth: { user: opts.user, pass: opts.password }, tls: { ca: opts.ca, servername: opts.servername }, logger: false });
  await client.connect();
  try {
    // Parents that are only names (Projekte of Projekte.Überblick) cannot be selected.
    const list = (await client.list())
      .filter((m) => !m.flags.has('\\Noselect') && !m.flags.has('\\NonExistent'))
      .map((m) => m.path)
      .sort();
    const messages = new Map<string, Map<string, string>>();
    for (const path of list) {
      const lock = await client.getMailboxLock(path, { readOnly: true });
      const box = new Map<string, string>();
      try {
        if ((client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.exists : 0) > 0) {
          for await (const m of client.fetch('1:*', { envelope: true, flags: true, internalDate: true })) {
            const id = m.envelope?.messageId ?? `?${m.seq}`;
            assert.ok(!box.has(id), `${path}: ${id} twice`);
            const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort().join(' ');
            box.set(id, `${flags}|${m.internalDate instanceof Date ? m.internalDate.toISOString() : String(m.internalDate)}`);
          }
        }
      } finally {
        lock.release();
      }
      messages.set(path, box);
    }
    return { folders: list, messages };
  } finally {
    await client.logout();
  }
}

const total = (s: Snapshot) => [...s.messages.values()].reduce((n, b) => n + b.size, 0);

for (const release of releasesUnderTest()) {
  const debian = CONFIG_RELEASE[release];
  describe(`mailrig migrate on ${debian}: from another IMAP server, resumable, incremental`, { timeout: 20 * 60_000 }, () => {
    let old: TestHost;
    let oldCa: string;
    let host: TestHost;
    let ws: Workspace;
    let ca: string;
    const home = '/var/vmail/example.com/alice';
    const oldImap = () => ({ host: old.address, user: PROVISIONED.alice, password: PROVISIONED.alicePassword, ca: oldCa, servername: 'old.example.com' });
    const newImap = () => ({ host: host.address, user: PROVISIONED.bob, password: TEST_PASSWORD, ca, servername: 'mail.example.com' });
    const migrate = () =>
      ws.mailrig(['migrate', PROVISIONED.bob, '--from', 'imaps://old.example.com', '--user', PROVISIONED.alice, '--password-stdin', '--ca-file', 'old-ca.pem'], {
        input: `${PROVISIONED.alicePassword}\n`,
        hostFlags: true,
      });
    const count = async () => {
      const r = await host.exec(`doveadm mailbox status -u ${PROVISIONED.bob} messages '*'`);
      return [...r.stdout.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };

    before(async () => {
      await cleanupStaleTestHosts();
      const t0 = Date.now();
      const [a, b] = await Promise.all([startProvisionedHost({ release, name: `migrate-old-${release}` }), startProvisionedHost({ release, name: `migrate-${release}` })]);
      old = a.host;
      ({ host, ws, ca } = b);
      // The old server: a certificate for old.example.com (its own CA, given to migrate), and the mail.
      const cert = await old.exec(
        'set -e; cd /etc/mailrig/tls; ' +
          'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=old.example.com ' +
          '-addext subjectAltName=DNS:old.example.com -keyout privkey.pem -out fullchain.pem 2>/dev/null; ' +
          'systemctl reload dovecot; cat fullchain.pem',
      );
      assert.equal(cert.code, 0, cert.stderr);
      oldCa = cert.stdout;
      writeFileSync(join(ws.dir, 'old-ca.pem'), oldCa);
      let n = 1;
      const script = FOLDERS.map(([folder, c]) => {
        const s = maildirScript(home, folder, n, c);
        n += c;
        return s;
      });
      const fill = await old.exec(`set -e\n${script.join('\n')}\nchown -R vmail:vmail ${home}\n`, { timeoutMs: 300_000 });
      assert.equal(fill.code, 0, fill.stderr);
      const hosts = await host.exec(`echo '${old.address} old.example.com' >> /etc/hosts`);
      assert.equal(hosts.code, 0);
      assert.equal(await count(), 0, 'bob starts empty');
      process.stderr.write(`# ${release}: two hosts and ${TOTAL} messages in ${Date.now() - t0} ms\n`);
    });
    after(async () => {
      await Promise.all([host?.stop(), old?.stop()]);
    });

    it('a run stopped half-way, then run again, copies every folder, flag and date once', async () => {
      const source = await snapshot(oldImap());
      const all = total(source);
      assert.ok(FOLDERS.every(([f, c]) => source.messages.get(f)?.size === c + (f === 'INBOX' ? all - TOTAL : 0)), 'the old server holds the generated mail');
      // Stop it half-way whatever the copying speed: the old server's IMAPS replies may carry only
      // half the bytes of its messages, then the rest is dropped. No copy completes on half the bytes,
      // and the largest folder (INBOX, under a third of them) is copied and committed within them.
      const bytes = Number((await old.exec(`find ${home}/Maildir -type f -path '*/cur/*' -printf '%s\\n' | awk '{ s += $1 } END { print s }'`)).stdout.trim());
      assert.ok(bytes > TOTAL * PAD_LINES * 75, `the messages hold ${bytes} bytes`);
      const imaps = ['OUTPUT', '-p', 'tcp', '--sport', '993'];
      const iptables = (...args: string[]) => execa('ip', ['netns', 'exec', old.netns, 'iptables', ...args]);
      const cap = ['-m', 'quota', '--quota', String(Math.floor(bytes / 2)), '-j', 'ACCEPT'];
      await iptables('-A', ...imaps, ...cap);
      await iptables('-A', ...imaps, '-j', 'DROP');
      let stopped;
      try {
        const first = migrate();
        let settled = false;
        void first.then(() => (settled = true));
        // The event: the drop rule has dropped a reply packet, so the copy can go no further.
        const dropped = async () => Number(/^\s*(\d+)\s+\d+\s+DROP\b/m.exec((await iptables('-nvxL', 'OUTPUT')).stdout)?.[1] ?? 0);
        for (let i = 0; !settled && (await dropped()) === 0; i++) {
          assert.ok(i < 1200, 'the copy reached half the bytes within 2 minutes');
          await new Promise((r) => setTimeout(r, 100));
        }
        if (settled) assert.fail(`migrate ended before it was cut off: ${show(await first)}`);
        // Stopped as a dropped SSH connection or Ctrl-C stops it: the run's script is signalled; dsync,
        // stuck on the silent server, is asked to stop and then killed.
        const stop = await host.exec('kill -TERM $(cat /run/mailrig-migrate.*/pid)');
        assert.equal(stop.code, 0, stop.stderr);
        stopped = await first;
      } finally {
        await iptables('-D', ...imaps, '-j', 'DROP');
        await iptables('-D', ...imaps, ...cap);
      }
      const seen = await count();
      assert.ok(seen > 0 && seen < all, `stopped half-way (${seen} of ${all})`);
      assert.notEqual(stopped.code, 0, show(stopped));
      assert.match(stopped.out + stopped.err, /run the same command again/);
      assert.equal((await host.exec('ls -d /run/mailrig-migrate.* 2>/dev/null | wc -l')).stdout.trim(), '0', 'the settings with the password are gone');

      const second = await migrate();
      assert.equal(second.code, 0, show(second));
      assert.match(second.out, new RegExp(`done, \\d+ new message\\(s\\), ${all} in the mailbox`));
      const copy = await snapshot(newImap());
      for (const [folder] of FOLDERS) assert.deepEqual(copy.messages.get(folder), source.messages.get(folder), folder);
      assert.deepEqual(source.folders.filter((f) => !copy.folders.includes(f)), [], 'every folder of the old server is here');
      assert.equal(total(copy), all);
      // Flags and dates really are the generated ones, not just equal on both sides.
      const m3 = copy.messages.get('INBOX')?.get('<m15@old.example>');
      assert.equal(m3, `${['\\Flagged', '\\Seen'].sort().join(' ')}|${new Date((1600000000 + 15 * 3600) * 1000).toISOString()}`);
    });

    it('10 new messages on the old server come over as exactly 10 more', async () => {
      const add = await old.exec(`set -e\n${maildirScript(home, 'Reisen.Köln', 2001, 10)}\nchown -R vmail:vmail ${home}\n`);
      assert.equal(add.code, 0, add.stderr);
      const again = await migrate();
      assert.equal(again.code, 0, show(again));
      assert.match(again.out, /done, 10 new message\(s\), \d+ in the mailbox/);
      const copy = await snapshot(newImap());
      assert.equal(total(copy), total(await snapshot(oldImap())));
      assert.equal(copy.messages.get('Reisen.Köln')?.size, 130);
    });
  });
}
