// Fact parsers on output recorded from real hosts (the release root filesystems and a bare Debian 12).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { factsScript, parseFacts, parseFiles, parseOsRelease, releaseOf } from '../../src/host/facts.js';
import { FIXTURES } from '../support/fixtures.js';

const recorded = (name: string) => parseFacts(readFileSync(join(FIXTURES, 'facts', name), 'utf8'));

describe('host facts', () => {
  it('reads a Debian 13 host with the mail packages installed', () => {
    const f = recorded('trixie-packages-installed.txt');
    assert.equal(f.release, 'debian-13');
    assert.equal(f.init, 'sysv');
    assert.equal(f.packages['postfix'], '3.10.13-0+deb13u1');
    assert.equal(f.packages['not-a-package'], undefined);
    assert.deepEqual(f.files['/etc/redis/redis.conf'], {
      sha256: '68ff69f4b44ebce67227ff4bd1aa5a38f1e9c155d13948183b0453e4354a89f4',
      mode: '0640',
      owner: 'redis',
      group: 'redis',
    });
    assert.equal(f.files['/etc/postfix/main.cf'], undefined, 'absent files are absent');
    assert.equal(f.services['postfix'], undefined);
    assert.deepEqual(f.users, ['root', 'postfix', '_rspamd']);
  });

  it('reads a Debian 12 host with none of the mail packages', () => {
    const f = recorded('bookworm-fresh.txt');
    assert.equal(f.release, 'debian-12');
    assert.equal(f.packages['postfix'], undefined);
    assert.ok(!f.users.includes('vmail'));
  });

  const releases: Array<[string, string | undefined]> = [
    ['ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm', 'debian-12'],
    ['ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie', 'debian-13'],
    ['ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye', undefined],
    ['ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble', undefined],
    ['ID=debian\nVERSION_CODENAME=trixie', 'debian-13'],
  ];
  for (const [text, release] of releases) {
    it(`maps ${text.split('\n').at(-1)} to ${release ?? 'unsupported'}`, () => {
      assert.equal(releaseOf(parseOsRelease(text.split('\n'))), release);
    });
  }

  it('keeps paths with spaces and pairs hashes with their files', () => {
    const files = parseFiles(['/etc/a b\t600\troot\troot'], [`${'a'.repeat(64)}  /etc/a b`]);
    assert.deepEqual(files['/etc/a b'], { sha256: 'a'.repeat(64), mode: '0600', owner: 'root', group: 'root' });
  });

  it('quotes every path in the script', () => {
    const script = factsScript({ packages: ['postfix'], paths: ["/etc/it's"], processes: { postfix: 'master' }, users: [] });
    assert.match(script, /'\/etc\/it'\\''s'/);
  });

  it('asks systemd about the socket of a daemon that runs on demand, and pgrep elsewhere', () => {
    const script = factsScript({ packages: [], paths: [], processes: { postfix: 'master', 'sts-front': 'sts-front' }, sockets: { 'sts-front': 'mailrig-sts-front.socket' }, users: [] });
    assert.match(script, /printf '%s\\t%s\\n' postfix "\$\(pgrep -o -x 'master' \|\| true\)"/);
    assert.ok(
      script.includes(`"$(if [ -d /run/systemd/system ]; then systemctl is-enabled --quiet mailrig-sts-front.socket && systemctl is-active --quiet mailrig-sts-front.socket && echo 0; else pgrep -o -x 'sts-front'; fi || true)"`),
      script,
    );
    // 0: held by systemd's socket (its process may not run at the moment).
    assert.equal(parseFacts('### mailrig-facts processes\nsts-front\t0\n').services['sts-front'], 0);
  });
});
