// The render core: deterministic, sorted, complete trees; the manifest; and `mailrig render --out`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from '../../src/cli/render.js';
import { UsageError } from '../../src/errors.js';
import { render } from '../../src/services/index.js';
import { MANIFEST_NAME, writeTree } from '../../src/render/tree.js';
import type { ManifestEntry } from '../../src/render/types.js';
import { fixtureKeyDir } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';
import { renderMatrix } from '../support/render-cases.js';
import { lineDiff } from '../support/line-diff.js';

const MATRIX = renderMatrix();

describe('render', () => {
  for (const { id, ctx } of MATRIX) {
    it(`${id}: sorted by path, each path once, the same bytes on every run`, () => {
      const a = render(ctx);
      const paths = a.map((f) => f.path);
      assert.deepEqual(paths, [...paths].sort());
      assert.equal(new Set(paths).size, paths.length);
      assert.deepEqual(render(ctx), a);
    });
  }

  it('includes the TLS key (root only) and certificate every service reads', () => {
    const first = MATRIX[0];
    assert.ok(first);
    const files = render(first.ctx);
    const key = files.find((f) => f.path === '/etc/mailrig/tls/privkey.pem');
    const cert = files.find((f) => f.path === '/etc/mailrig/tls/fullchain.pem');
    assert.deepEqual([key?.mode, key?.owner, key?.secret, key?.service, key?.onChange], ['0600', 'root', true, 'mailrig', 'reload']);
    assert.equal(key?.content, first.ctx.keys.tls.current.privatePem);
    assert.deepEqual([cert?.mode, cert?.secret], ['0644', false]);
    assert.equal(cert?.content, first.ctx.keys.tls.selfSignedCertPem);
  });

  it('renders files of every service', () => {
    const first = MATRIX[0];
    assert.ok(first);
    const services = new Set(render(first.ctx).map((f) => f.service));
    for (const s of ['postfix', 'nginx', 'redis', 'mailrig']) assert.ok(services.has(s as never), s);
  });
});

describe('writeTree', () => {
  it('writes each file under the directory with its mode, and a manifest with sha256', () => {
    const first = MATRIX[0];
    assert.ok(first);
    const files = render(first.ctx);
    const dir = scratchDir('mailrig-tree-');
    writeTree(dir, files);
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as ManifestEntry[];
    assert.deepEqual(
      manifest.map((e) => e.path),
      files.map((f) => f.path),
    );
    for (const f of files) {
      const onDisk = join(dir, f.path);
      assert.equal(readFileSync(onDisk, 'utf8'), f.content);
      assert.equal((statSync(onDisk).mode & 0o777).toString(8).padStart(4, '0'), f.mode);
      const entry = manifest.find((e) => e.path === f.path);
      assert.equal(entry?.sha256, createHash('sha256').update(f.content).digest('hex'));
      assert.equal('content' in (entry ?? {}), false);
    }
  });

  it('refuses paths that would escape the directory', () => {
    const dir = scratchDir('mailrig-tree-');
    const bad = { path: '/etc/../../x', content: '', mode: '0644', owner: 'root', group: 'root', service: 'postfix', onChange: 'none', secret: false } as const;
    assert.throws(() => writeTree(dir, [bad]), /not a clean absolute path/);
  });
});

describe('mailrig render --out', () => {
  function project(): string {
    const keyDir = fixtureKeyDir();
    const config = join(dirname(keyDir), 'mailrig.yaml');
    writeFileSync(
      config,
      [
        'server: { hostname: mail.example.com, ipv4: 203.0.113.10, ssh: local, release: debian-13 }',
        'admin_email: admin@example.com',
        'domains:',
        '  example.com:',
        '    mailboxes:',
        "      alice: { password_hash: '{SHA512-CRYPT}$6$abc$def' }",
        '',
      ].join('\n'),
    );
    return config;
  }

  async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
    const write = process.stdout.write.bind(process.stdout);
    let out = '';
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      return { value: await fn(), out };
    } finally {
      process.stdout.write = write;
    }
  }

  it('writes a new directory and prints one line per service', async () => {
    const config = project();
    const out = join(scratchDir('mailrig-out-'), 'tree');
    const { out: printed } = await quietly(() => run({ out, config }));
    assert.ok(existsSync(join(out, 'etc/postfix/main.cf')));
    assert.ok(existsSync(join(out, MANIFEST_NAME)));
    assert.match(printed, /^ {2}postfix +\d+ files$/m);
    assert.match(printed, /^ {2}nginx +\d+ files$/m);
  });

  it('refuses a non-empty directory that holds no earlier render', async () => {
    const config = project();
    const out = scratchDir('mailrig-out-');
    writeFileSync(join(out, 'notes.txt'), 'mine\n');
    await assert.rejects(run({ out, config }), (e) => e instanceof UsageError && /not empty/.test(e.message));
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine\n');
  });

  it('replaces the files of an earlier render, and leaves other files alone', async () => {
    const config = project();
    const out = scratchDir('mailrig-out-');
    await quietly(() => run({ out, config }));
    const stale = join(out, 'etc/postfix/old-map');
    writeFileSync(join(out, MANIFEST_NAME), JSON.stringify([{ path: '/etc/postfix/old-map' }]));
    writeFileSync(stale, 'x\n');
    mkdirSync(join(out, 'keep'));
    writeFileSync(join(out, 'keep/notes.txt'), 'mine\n');
    await quietly(() => run({ out, config }));
    assert.equal(existsSync(stale), false);
    assert.ok(existsSync(join(out, 'etc/postfix/main.cf')));
    assert.equal(readFileSync(join(out, 'keep/notes.txt'), 'utf8'), 'mine\n');
  });
});

describe('lineDiff (used by the golden test)', () => {
  it('shows changed lines with context', () => {
    const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n');
    const b = ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h', 'i'].join('\n');
    assert.equal(lineDiff(a, b, 1), ['@@ -3 +3 @@', ' c', '-d', '+D', ' e', '@@ -8 +8 @@', ' h', '+i'].join('\n'));
  });
});
