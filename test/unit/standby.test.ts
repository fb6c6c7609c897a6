// The standby replica: its place in mailrig.yaml, what it runs and renders beside the primary, its
// DNS records, and the two scripts of the replication run with the real command shapes: the
// primary's (which doveadm sync it runs) and the standby's wrapper (what it lets the key run).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig, parseYaml } from '../../src/config/load.js';
import { swapWithStandby } from '../../src/config/edit.js';
import { forHost, standbyOf, type Config } from '../../src/config/model.js';
import { buildRecords } from '../../src/dns/records.js';
import { loadReplicationKeys, recordHostKey } from '../../src/keys/replication.js';
import { makeSelfSignedCertificate } from '../../src/keys/selfsigned.js';
import { publicKeys, type KeyMaterial } from '../../src/keys/store.js';
import { REPLICATION_FILES, STANDBY_KEY_ALIAS } from '../../src/render/replication.js';
import type { FileSpec } from '../../src/render/types.js';
import { daemonsFor, packagesFor, render } from '../../src/services/index.js';
import { fixtureKeys, TEST_HASH } from '../support/fixtures.js';
import { fixtureProject, mailrig } from '../support/project.js';
import { STANDBY_HOST_KEY, standbyKeys } from '../support/standby.js';

type Doc = Record<string, any>;

function base(): Doc {
  return {
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
    servers: [{ name: 'standby', role: 'standby', hostname: 'mail2.example.com', ipv4: '198.51.100.40', ipv6: '2001:db8::40', ssh: 'root@198.51.100.40:2222', release: 'debian-12' }],
    admin_email: 'admin@example.com',
    tls: { acme: 'self-signed' },
    domains: {
      'example.com': { mailboxes: { alice: { password_hash: TEST_HASH }, robot: { password_hash: TEST_HASH, send_only: true } } },
      'example.org': { mailboxes: { bob: { password_hash: TEST_HASH } } },
    },
  };
}

const load = (doc: Doc): Config => parseConfig(stringify(doc), 'mailrig.yaml').config;

async function filesOf(config: Config, hostKey?: string): Promise<Map<string, FileSpec>> {
  const files = render({ config, keys: await standbyKeys(config, hostKey), release: config.server.release });
  return new Map(files.map((f) => [f.path, f]));
}

/** Runs a rendered script with sh, `fakes` (name → sh body) first on PATH, and `env`. */
function run(script: string, fakes: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-script-'));
  for (const [name, body] of Object.entries(fakes)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(join(dir, 'script'), script);
  const r = spawnSync('sh', [join(dir, 'script')], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr, dir };
}

/** Resolves once `ready()` holds (checked every 20 ms); fails naming `what` after 10 s. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !ready(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
  }
}

describe('a standby in mailrig.yaml', () => {
  it('is accepted on the primary\'s release: one standby, no MX', () => {
    const config = load(base());
    assert.equal(standbyOf(config)?.name, 'standby');
    assert.deepEqual(config.servers.map((s) => s.role), ['primary', 'standby']);
  });

  it('runs what serves the mailboxes (Dovecot, Postfix as the primary\'s, nginx, postsrsd, fail2ban), not the backups or the ACME agent', () => {
    const config = forHost(load({ ...base(), backup: undefined }), 'standby');
    const daemons = daemonsFor(config);
    for (const d of ['postfix', 'dovecot', 'nginx', 'postsrsd', 'fail2ban', 'rspamd']) assert.ok(daemons.includes(d), `${d} in ${daemons.join(' ')}`);
    const packages = packagesFor(config, { release: 'debian-12', init: 'systemd' });
    assert.ok(packages.includes('dovecot-core') && packages.includes('openssh-server'), packages.join(' '));
    assert.ok(!packages.includes('restic'));
  });
});

describe('replication files', () => {
  it('the primary: the key root-only, the standby\'s host key pinned, the users, the script and its every-minute timer', async () => {
    const files = await filesOf(load(base()));
    const key = files.get(REPLICATION_FILES.key);
    assert.equal(key?.mode, '0600');
    assert.equal(key?.secret, true);
    assert.match(key?.content ?? '', /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.match(files.get(REPLICATION_FILES.knownHosts)?.content ?? '', new RegExp(`^${STANDBY_KEY_ALIAS} ${STANDBY_HOST_KEY.replace(/[+/]/g, '\\$&')}$`, 'm'));
    assert.equal(files.get(REPLICATION_FILES.users)?.content, 'alice@example.com\nbob@example.org\n', 'every mailbox that stores mail');
    assert.equal(files.get(REPLICATION_FILES.script)?.mode, '0700');
    assert.match(files.get(REPLICATION_FILES.timer)?.content ?? '', /^OnCalendar=\*:\*:00$/m);
    assert.match(files.get(REPLICATION_FILES.cron)?.content ?? '', /^\* \* \* \* \* root \[ -d \/run\/systemd\/system \] \|\| \/usr\/local\/sbin\/mailrig-replicate /m);
    assert.equal(files.get(REPLICATION_FILES.authorizedKeys), undefined, 'the primary takes no replication logins');
    assert.equal(files.get(REPLICATION_FILES.wrapper), undefined);
  });

  it('the primary before mailrig first reached the standby: no key pinned, so ssh refuses it', async () => {
    const files = await filesOf(load(base()), '');
    assert.doesNotMatch(files.get(REPLICATION_FILES.knownHosts)?.content ?? '', new RegExp(`^${STANDBY_KEY_ALIAS} `, 'm'));
  });

  it('the standby: authorized_keys2 lets the key run only the wrapper; the DKIM keys are there to send after a failover', async () => {
    const config = forHost(load(base()), 'standby');
    const keys = await standbyKeys(config);
    const files = new Map(render({ config, keys, release: 'debian-12' }).map((f) => [f.path, f]));
    const allowed = files.get(REPLICATION_FILES.authorizedKeys);
    assert.equal(allowed?.mode, '0600');
    const lines = (allowed?.content ?? '').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines, [`restrict,command="/usr/local/sbin/mailrig-dsync-server" ${keys.replication?.publicKey} mailrig-replication`]);
    assert.equal(files.get(REPLICATION_FILES.wrapper)?.mode, '0755');
    assert.equal(files.get(REPLICATION_FILES.key), undefined, 'the private key stays on the primary');
    assert.equal(files.get(REPLICATION_FILES.script), undefined);
    assert.ok([...files.keys()].some((p) => p.startsWith('/var/lib/rspamd/dkim/')));
  });

  it('nothing of replication without a standby', async () => {
    const doc = base();
    doc.servers[0].role = 'backup-mx';
    const files = await filesOf(load(doc));
    assert.deepEqual([...files.values()].filter((f) => f.service === 'replication' || f.service === 'replica'), []);
  });
});

describe('the primary\'s replication script', () => {
  const script = async () => {
    const files = await filesOf(load(base()));
    return (files.get(REPLICATION_FILES.script)?.content ?? '').replace('/run/', `${mkdtempSync(join(tmpdir(), 'mailrig-lock-'))}/`);
  };
  const withUsers = (text: string, users: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'mailrig-users-')), 'users');
    writeFileSync(path, users);
    return text.replace(`done <${REPLICATION_FILES.users}`, `done <${path}`);
  };

  it('runs doveadm sync (two-way) for each user to remote:, ssh with the pinned key asking the standby for dsync-server -u<user> -U', async () => {
    const r = run(withUsers(await script(), 'alice@example.com\nbob@example.org\n'), { doveadm: 'printf "%s\\n" "$*" >>"$(dirname "$0")/calls"' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^mailrig-replicate: 2 synced to standby in \d+s\n$/);
    const calls = readFileSync(join(r.dir, 'calls'), 'utf8').trim().split('\n');
    const remote = `dsync_remote_cmd=ssh -i ${REPLICATION_FILES.key} -p 2222 -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${REPLICATION_FILES.knownHosts} -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=${STANDBY_KEY_ALIAS} -o ConnectTimeout=10 -o ServerAliveInterval=15 -l%{login} %{host} doveadm dsync-server -u%{user} -U`;
    assert.deepEqual(calls, [`-o ${remote} sync -u alice@example.com remote:root@198.51.100.40`, `-o ${remote} sync -u bob@example.org remote:root@198.51.100.40`]);
  });

  it('a user that fails is named on the one line, the others are synced, and the run exits 1', async () => {
    const r = run(withUsers(await script(), 'alice@example.com\nbob@example.org\n'), {
      doveadm: 'case "$5" in bob@*) echo "Remote command returned error 255" >&2; exit 2;; esac',
    });
    assert.equal(r.code, 1);
    assert.equal(r.out, `mailrig-replicate: 1 synced to standby in 0s; failed: bob@example.org (Remote command returned error 255)\n`.replace('in 0s', r.out.match(/in \d+s/)?.[0] ?? ''));
  });

  it('never overlaps: a run while another holds the lock skips it', async () => {
    const text = withUsers(await script(), 'alice@example.com\n');
    const lock = /exec 9>(\S+)/.exec(text)?.[1] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'mailrig-script-'));
    writeFileSync(join(dir, 'script'), text);
    // flock holds the lock while the script runs: the script must not wait for it, nor call doveadm.
    const r = spawnSync('flock', ['-n', lock, 'sh', join(dir, 'script')], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'mailrig-replicate: the previous run is still going; this one is skipped\n');
  });

  it('--wait (the last sync of a failback) waits for a run that holds the lock, then runs', async () => {
    const text = withUsers(await script(), 'alice@example.com\n');
    const lock = /exec 9>(\S+)/.exec(text)?.[1] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'mailrig-script-'));
    writeFileSync(join(dir, 'script'), text);
    // doveadm records whether the other run had let the lock go when it was called.
    writeFileSync(join(dir, 'doveadm'), `#!/bin/sh\n[ -e ${dir}/released ] && echo after >>${dir}/calls || echo during >>${dir}/calls\n`);
    chmodSync(join(dir, 'doveadm'), 0o755);
    // The other run holds the lock until told to go, and says it let go before it does.
    const holder = spawn('flock', [lock, 'sh', '-c', `touch ${dir}/held; while [ ! -e ${dir}/go ]; do sleep 0.05; done; touch ${dir}/released`]);
    const holderDone = new Promise((done) => holder.once('exit', done));
    try {
      await until(() => existsSync(join(dir, 'held')), 'the other run holds the lock');
      const waiter = spawn('sh', [join(dir, 'script'), '--wait'], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      let out = '';
      waiter.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const code = new Promise<number | null>((done) => waiter.once('exit', done));
      // The kernel lists a process blocked on a lock as a waiter ("->") on the lock file's inode.
      const inode = statSync(lock).ino;
      await until(() => readFileSync('/proc/locks', 'utf8').split('\n').some((l) => l.includes('->') && l.includes(`:${inode} `)), '--wait blocks on the lock');
      writeFileSync(join(dir, 'go'), '');
      await holderDone;
      assert.equal(await code, 0);
      assert.match(out, /^mailrig-replicate: 1 synced to standby in \d+s\n$/);
    } finally {
      writeFileSync(join(dir, 'go'), ''); // the other run ends whatever happened
    }
    assert.equal(readFileSync(join(dir, 'calls'), 'utf8'), 'after\n', 'doveadm ran once, after the other run let go');
  });
});

describe('the standby\'s wrapper (the only command the replication key runs)', () => {
  const wrapper = async () => {
    const config = forHost(load(base()), 'standby');
    const files = render({ config, keys: await standbyKeys(config), release: 'debian-12' });
    const users = join(mkdtempSync(join(tmpdir(), 'mailrig-users-')), 'users');
    writeFileSync(users, files.find((f) => f.path === REPLICATION_FILES.users)?.content ?? '');
    return (files.find((f) => f.path === REPLICATION_FILES.wrapper)?.content ?? '').replaceAll(REPLICATION_FILES.users, users);
  };
  const doveadm = { doveadm: 'printf "%s|" "$@" >"$(dirname "$0")/ran"' };

  for (const [shape, command] of [
    ['Dovecot 2.3\'s dsync_remote_cmd (-u glued, -U after)', 'doveadm dsync-server -ualice@example.com -U'],
    ['Dovecot 2.4\'s (no -U)', 'doveadm dsync-server -ubob@example.org'],
  ] as const) {
    it(`runs doveadm dsync-server for one user: ${shape}`, async () => {
      const r = run(await wrapper(), doveadm, { SSH_ORIGINAL_COMMAND: command });
      assert.equal(r.code, 0, r.err);
      const user = command.includes('alice') ? 'alice@example.com' : 'bob@example.org';
      assert.equal(readFileSync(join(r.dir, 'ran'), 'utf8'), `dsync-server|-u|${user}|`);
    });
  }

  for (const [what, command] of [
    ['no command (an interactive login)', undefined],
    ['a shell', 'sh'],
    ['another doveadm command', 'doveadm backup -ualice@example.com -U'],
    ['the user as a separate word', 'doveadm dsync-server -u alice@example.com -U'],
    ['a command appended', 'doveadm dsync-server -ualice@example.com -U; id'],
    ['a command substitution', 'doveadm dsync-server -u$(id)@example.com -U'],
    ['an option as the user', 'doveadm dsync-server -u-A -U'],
    ['an upper-case user', 'doveadm dsync-server -uALICE@example.com -U'],
    ['two @', 'doveadm dsync-server -ualice@x@example.com -U'],
    ['a trailing word', 'doveadm dsync-server -ualice@example.com -U -x'],
    ['a user not of this server', 'doveadm dsync-server -umallory@example.com -U'],
    ['a send-only mailbox (stores no mail)', 'doveadm dsync-server -urobot@example.com -U'],
  ] as const) {
    it(`refuses ${what} with a message and exit 1, running nothing`, async () => {
      const r = run(await wrapper(), doveadm, command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command });
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /^mailrig-dsync-server: refused: /);
      assert.throws(() => readFileSync(join(r.dir, 'ran')));
    });
  }
});

describe('DNS with a standby', () => {
  it('A, AAAA, TLSA and PTR for its name; no MX while it is the standby; SPF names it', () => {
    const config = load(base());
    const records = buildRecords(config, publicKeys(fixtureKeys(config.domains.map((d) => d.name))));
    const of = (name: string, type: string) => records.filter((r) => r.name === name && r.type === type).map((r) => r.value);
    assert.deepEqual(of('mail2.example.com', 'A'), ['198.51.100.40']);
    assert.deepEqual(of('mail2.example.com', 'AAAA'), ['2001:db8::40']);
    assert.deepEqual(of('_25._tcp.mail2.example.com', 'TLSA'), of('_25._tcp.mail.example.com', 'TLSA'), 'the same TLS key as the primary');
    assert.ok(of('_25._tcp.mail2.example.com', 'TLSA').length > 0);
    assert.deepEqual(of('example.com', 'MX'), ['10 mail.example.com.']);
    assert.deepEqual(of('example.com', 'TXT').filter((v) => v.startsWith('v=spf1')), ['v=spf1 mx a:mail2.example.com -all']);
    assert.ok(records.some((r) => r.type === 'PTR' && r.value === 'mail2.example.com.'));
  });
});

describe('failover and failback', () => {
  it('the swap: the standby\'s host becomes server:, the primary\'s the standby entry; the rest of the file as written', () => {
    const text = [
      '# my mail system',
      'server:',
      '  hostname: mail.example.com   # the first box',
      '  ipv4: 10.0.0.1',
      '  ssh: root@10.0.0.1',
      '  release: debian-12',
      '  allow_private_addresses: true',
      'servers:',
      '  - name: mx2',
      '    role: backup-mx',
      '    hostname: mx2.example.com',
      '    ipv4: 10.0.0.2',
      '    ssh: root@10.0.0.2',
      '    release: debian-13',
      '  - name: standby',
      '    role: standby',
      '    hostname: mail2.example.com',
      '    ipv4: 10.0.0.3',
      '    ssh: root@10.0.0.3:2222',
      '    release: debian-12',
      'admin_email: admin@example.com',
      '',
    ].join('\n');
    const swapped = parseYaml(swapWithStandby(text, 1)).doc.toJS() as Doc;
    assert.deepEqual(swapped.server, { name: 'standby', hostname: 'mail2.example.com', ipv4: '10.0.0.3', ssh: 'root@10.0.0.3:2222', release: 'debian-12', allow_private_addresses: true });
    assert.deepEqual(swapped.servers[1], { name: 'primary', role: 'standby', hostname: 'mail.example.com', ipv4: '10.0.0.1', ssh: 'root@10.0.0.1', release: 'debian-12', allow_private_addresses: true });
    assert.equal(swapped.servers[0].name, 'mx2');
    assert.match(swapWithStandby(text, 1), /^# my mail system\n/);
    const back = parseYaml(swapWithStandby(swapWithStandby(text, 1), 1)).doc.toJS() as Doc;
    assert.deepEqual(back.server, { name: 'primary', ...parseYaml(text).doc.toJS().server });
    assert.deepEqual(back.servers, parseYaml(text).doc.toJS().servers.map((s: Doc) => (s.role === 'standby' ? { ...s, allow_private_addresses: true } : s)));
  });

  /** The fixture project with a standby; every SSH target on a closed loopback port. */
  function project(role = 'standby'): ReturnType<typeof fixtureProject> {
    const p = fixtureProject();
    const yaml = p.read().replace('ssh: root@203.0.113.10', 'ssh: root@127.0.0.1:1');
    writeFileSync(
      p.config,
      `${yaml.trimEnd()}\nservers:\n  - name: standby\n    role: ${role}\n    hostname: mail2.example.com\n    ipv4: 198.51.100.40\n    ssh: root@127.0.0.3:1\n    release: debian-12\n`,
    );
    return p;
  }

  for (const [what, setup, args, phrase] of [
    ['failover without a standby', 'backup-mx', ['failover', '--to', 'standby', '--yes'], /no standby \(an entry of servers: with role: standby\)/],
    ['failover to an unknown host', 'standby', ['failover', '--to', 'mx9', '--yes'], /--to mx9: is no host of mailrig\.yaml; the standby is standby \(mail2\.example\.com\)/],
    ['failover to the primary', 'standby', ['failover', '--to', 'primary', '--yes'], /--to primary: is the primary already/],
    ['failover without --to', 'standby', ['failover', '--yes'], /failover needs --to standby/],
    ['failback without a standby', 'backup-mx', ['failback', '--yes'], /no standby/],
  ] as const) {
    it(`refuses ${what} with exit 2, mailrig.yaml unchanged`, () => {
      const p = project(setup);
      const before = p.read();
      const r = mailrig(p.dir, [...args]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, phrase);
      assert.equal(p.read(), before);
    });
  }

  it('failback whose last sync cannot run changes nothing and exits 1', () => {
    const p = project();
    const before = p.read();
    const r = mailrig(p.dir, ['failback', '--yes']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(p.read(), before);
  });

  it('failover with no host answering: mailrig.yaml swapped, the old primary named but not a failure, the new primary is', () => {
    const p = project();
    const r = mailrig(p.dir, ['failover', '--to', 'standby', '--yes']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /standby is the primary now, primary the standby/);
    assert.match(r.err, /warning: primary \(root@127\.0\.0\.1:1\) was not applied: /);
    assert.match(r.err, /1 of 2 hosts failed: standby/);
    const swapped = parseYaml(p.read()).doc.toJS() as Doc;
    assert.equal(swapped.server.hostname, 'mail2.example.com');
    assert.equal(swapped.servers[0].role, 'standby');
    assert.equal(swapped.servers[0].hostname, 'mail.example.com');
  });
});
