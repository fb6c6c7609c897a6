// Ordinary failures are not bugs: permissions, a directory that cannot be written, a YAML alias bomb,
// a broken certificate in .mailrig/, an output path that cannot exist. Each gives a message naming
// the path and exit 1 (the environment) or 2 (the input) at once, never "this is a bug" (exit 70).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureProject, mailrig, MAILRIG_BIN, scratchDir } from '../support/project.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/** mailrig run as an unprivileged user (root reads and writes anything). */
function asNobody(dir: string, args: string[], input = '') {
  const r = spawnSync(process.execPath, [MAILRIG_BIN, ...args], { cwd: dir, input, encoding: 'utf8', uid: NOBODY, gid: NOBODY, env: { ...process.env, NO_COLOR: '1', HOME: dir }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function notABug(r: { code: number | null; err: string }, code: number, says: RegExp): void {
  assert.doesNotMatch(r.err, /this is a bug|\n\s+at /);
  assert.equal(r.code, code, r.err);
  assert.match(r.err, says);
}

describe('ordinary failures', { skip: asRoot ? false : 'needs root, to run mailrig as another user' }, () => {
  it('a key store the user may not read: exit 1, naming it', () => {
    const p = fixtureProject();
    chmodSync(p.dir, 0o755);
    notABug(asNobody(p.dir, ['dns']), 1, new RegExp(`^mailrig: cannot \\w+( \\w+)* ${p.keyDir}\\S*: permission denied\\n$`));
  });

  it('a project directory that cannot be written: exit 1 before anything changes, naming the path', () => {
    const p = fixtureProject();
    chmodSync(p.dir, 0o755);
    const before = p.read();
    notABug(asNobody(p.dir, ['user', 'quota', 'alice@example.com', '5G']), 1, new RegExp(`^mailrig: cannot write ${p.dir}/\\.mailrig\\.lock: permission denied\\n$`));
    assert.equal(p.read(), before);
  });

  it('a read-only output directory for render: exit 1, naming it', () => {
    const p = fixtureProject();
    const out = scratchDir('mailrig-ro-');
    chmodSync(p.dir, 0o755);
    chownSync(p.keyDir, NOBODY, NOBODY);
    const chownAll = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        chownSync(join(d, e.name), NOBODY, NOBODY);
        if (e.isDirectory()) chownAll(join(d, e.name));
      }
    };
    chownAll(p.keyDir);
    chmodSync(out, 0o555);
    notABug(asNobody(p.dir, ['render', '--out', join(out, 'tree')]), 1, new RegExp(`^mailrig: cannot create the directory ${out}/tree: permission denied\\n$`));
  });

  it('mailrig.yaml the user may not read: exit 2, naming it', () => {
    const p = fixtureProject();
    chmodSync(p.dir, 0o755);
    chmodSync(p.config, 0o600);
    notABug(asNobody(p.dir, ['dns']), 2, /mailrig\.yaml: cannot read it \(EACCES\)/);
  });
});

describe('ordinary failures of the input', () => {
  it('a YAML alias bomb: exit 2 at once', () => {
    const dir = scratchDir('mailrig-bomb-');
    const levels = 'abcdefghi'.split('');
    const text = levels.map((l, i) => (i === 0 ? `${l}: &${l} [lol, lol, lol, lol, lol, lol, lol, lol, lol]` : `${l}: &${l} [${Array(9).fill(`*${levels[i - 1]}`).join(', ')}]`)).join('\n');
    writeFileSync(join(dir, 'mailrig.yaml'), `${text}\n`);
    for (const args of [['dns'], ['user', 'list'], ['domain', 'add', 'example.org'], ['render', '--out', join(dir, 'out')]]) {
      notABug(mailrig(dir, args), 2, /mailrig\.yaml: YAML aliases \(\*name\) expand too far/);
    }
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  it('a corrupt self-signed certificate is caught by render, not shipped', () => {
    const p = fixtureProject();
    const cert = join(p.keyDir, 'tls/selfsigned.crt');
    const out = join(p.dir, 'out');
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----\n');
    notABug(mailrig(p.dir, ['render', '--out', out]), 2, new RegExp(`^mailrig: ${cert}: not a certificate in PEM form \\(.*\\); remove it, and mailrig domain add example\\.com makes a new one\\n$`));
    assert.equal(existsSync(out), false);
  });

  it('render --out under /proc fails at once', () => {
    const p = fixtureProject();
    const r = spawnSync(process.execPath, [MAILRIG_BIN, 'render', '--out', '/proc/mailrig-out'], { cwd: p.dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, 'it did not have to be stopped');
    notABug({ code: r.status, err: r.stderr }, 2, /^mailrig: \/proc\/mailrig-out: cannot create a directory there \(\/proc takes no new entries\)\n$/);
  });
});
