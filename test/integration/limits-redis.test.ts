// The sending limits' Redis script (rendered into rspamd.local.lua), run by each release's own Redis
// in its cached root filesystem: in a window exactly the limit's number of messages pass, the minute
// and the day are counted apart, a refused message is not counted, the recipients limit refuses
// without counting, and the "limited" marker and the admin's notice are set once per user. The
// whole exchange takes milliseconds, far inside the minute window it counts in. The notice job
// that mails what the script queued succeeds while Redis is down (a restart, a package upgrade): a
// failed periodic unit would leave systemd "degraded" for no lasting fault.
// Needs root (namespaces, chroot); the root filesystems are built once and cached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { LIMIT_NOTICE_SCRIPT, renderLimitNotice, renderLimitsLua } from '../../src/render/limits.js';
import { fixtureKeys, oneDomainConfig, PROJECT_ROOT } from '../support/fixtures.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, chroot)' : false;

/** The EVAL script of the rendered rule. */
function limitsScript(): string {
  const lua = renderLimitsLua(oneDomainConfig());
  const m = /local script = \[\[\n([\s\S]*?)\]\]/.exec(lua);
  assert.ok(m?.[1], lua);
  return m[1];
}

// Inside the chroot: Redis on a socket in a private /tmp, then the calls, one result line each.
const SESSION = `
set -u
redis-server --port 0 --unixsocket /tmp/r.sock --save '' --appendonly no >/tmp/redis.log 2>&1 &
i=0
while [ ! -S /tmp/r.sock ]; do i=$((i + 1)); [ $i -gt 400 ] && { cat /tmp/redis.log; exit 3; }; sleep 0.05; done
S=$(cat /tmp/limits.lua)
r() { redis-cli -s /tmp/r.sock "$@"; }
# user, minute limit, day limit, recipients over the user's limit ('' when not)
ev() { r EVAL "$S" 4 "sent:minute:$1" "sent:day:$1" "limited:$1" notices "$2" "$3" "$1" 1000 "$4"; }
echo "minute=$(for n in 1 2 3 4 5 6 7; do ev bob 5 100 ''; done | tr '\\n' ' ')"
echo "day=$(for n in 1 2 3 4; do ev carol 100 3 ''; done | tr '\\n' ' ')"
echo "recipients=$(ev dave 100 100 4)"
echo "counted-bob=$(r GET sent:day:bob)"
echo "counted-dave=$(r EXISTS sent:day:dave)"
for u in bob carol dave; do echo "marker-$u=$(r GET limited:$u)"; done
echo "ttl=$(r TTL sent:minute:bob) $(r TTL sent:day:bob) $(r TTL limited:bob)"
echo "notices=$(r LRANGE notices 0 -1 | tr '\\n' ' ')"
`;

function session(rootfs: string, script: string): Map<string, string> {
  // A private mount namespace: a tmpfs on the root filesystem's /tmp (the cache stays untouched),
  // /dev bound in; the pid namespace ends Redis with the session.
  const outer = `set -e; mount -t tmpfs tmpfs "$R/tmp"; mount --bind /dev "$R/dev"; cat > "$R/tmp/limits.lua"; exec chroot "$R" /bin/sh -c "$SESSION"`;
  const r = spawnSync('unshare', ['--mount', '--pid', '--fork', '--net', '--kill-child', '--', 'sh', '-c', outer], {
    input: script,
    encoding: 'utf8',
    env: { ...process.env, R: rootfs, SESSION, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return new Map(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
}

for (const release of ['bookworm', 'trixie'] as const) {
  describe(`sending limits in Redis (${release})`, { skip }, () => {
    let rootfs = '';
    before(() => {
      const r = spawnSync('bash', [join(PROJECT_ROOT, 'test/support/rootfs.sh'), 'ensure', release], { encoding: 'utf8', timeout: 30 * 60_000 });
      assert.equal(r.status, 0, r.stderr);
      rootfs = r.stdout.trim().split('\n').pop() ?? '';
    });

    it('exactly the limit passes in a window; refusals are not counted; marker and notice once per user', () => {
      const out = session(rootfs, limitsScript());
      assert.equal(out.get('minute'), '0 0 0 0 0 1 1', 'bob: 5 a minute, the 6th and 7th refused for the minute');
      assert.equal(out.get('day'), '0 0 0 2', 'carol: 3 a day, the 4th refused for the day');
      assert.equal(out.get('recipients'), '3', 'dave: too many recipients');
      assert.equal(out.get('counted-bob'), '5', 'refused messages are not counted');
      assert.equal(out.get('counted-dave'), '0', 'nor one refused for its recipients');
      assert.deepEqual(['bob', 'carol', 'dave'].map((u) => out.get(`marker-${u}`)), ['1000 1', '1000 2', '1000 3'], 'when each was first refused, and why');
      const [minute, day, marker] = (out.get('ttl') ?? '').split(' ').map(Number);
      assert.ok(minute! > 0 && minute! <= 60, `the minute window expires within 60 s (${minute})`);
      assert.ok(day! > 86_000 && day! <= 86_400, `the day window within a day (${day})`);
      assert.ok(marker! > 86_000 && marker! <= 86_400, `the marker within a day (${marker})`);
      assert.equal(out.get('notices'), 'bob carol dave', 'one notice per user, in the order of their first refusal');
    });

    it('the notice job succeeds while Redis does not answer: the notices wait in Redis for its next run', () => {
      const config = oneDomainConfig();
      const ctx = { config, keys: fixtureKeys(config.domains.map((d) => d.name)), release: release === 'bookworm' ? 'debian-12' : 'debian-13' } as const;
      const job = renderLimitNotice(ctx).find((f) => f.path === LIMIT_NOTICE_SCRIPT);
      assert.ok(job);
      // A network namespace of its own: nothing listens on 127.0.0.1:6379 there.
      const outer = 'set -e; mount -t tmpfs tmpfs "$R/tmp"; cat > "$R/tmp/notice"; exec chroot "$R" /bin/sh /tmp/notice';
      const r = spawnSync('unshare', ['--mount', '--net', '--', 'sh', '-c', outer], {
        input: job.content,
        encoding: 'utf8',
        env: { ...process.env, R: rootfs, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /redis does not answer: the queued notices wait for the next run/);
    });
  });
}
