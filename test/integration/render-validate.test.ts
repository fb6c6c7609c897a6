// Every golden case, rendered and handed to the real daemons of its release: chroot-check.sh overlays
// the tree on a cached Debian root filesystem, runs postmap/postalias, postconf -n, postfix check,
// doveconf -n, rspamadm configtest, nginx -t and unbound-checkconf, then starts every service through its init script
// and waits for its ports. A complaint from any of them fails the test with the validator's output.
// Needs root (namespaces, chroot, overlayfs); the root filesystems are built once and cached.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { render } from '../../src/services/index.js';
import { writeTree } from '../../src/render/tree.js';
import { PROJECT_ROOT } from '../support/fixtures.js';
import { CODENAMES, renderMatrix } from '../support/render-cases.js';

const SUPPORT = join(PROJECT_ROOT, 'test/support');
const BASE_PORTS = [53, 25, 465, 587, 143, 993, 4190, 80, 443, 11332, 6379];
// A backup MX: the resolver, Postfix on 25 only, rspamd and Redis.
const BACKUP_MX_PORTS = [53, 25, 11332, 6379];
const isRoot = process.getuid?.() === 0;
// CI must run this; a developer without root gets a visible skip instead of a failure.
const skip = !isRoot && !process.env.CI ? 'needs root (namespaces, chroot, overlayfs)' : false;

function bash(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 15 * 60_000) {
  const r = spawnSync('bash', args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

/** The part of the validator's output worth reading: everything but the echoed config dumps. */
function digest(output: string): string {
  const lines = output.split('\n');
  const tail = lines.filter((l) => !l.startsWith('  | ')).slice(-80);
  return tail.join('\n');
}

describe('rendered trees pass the real validators and start', { skip }, () => {
  const matrix = renderMatrix();

  before(() => {
    // Builds each release's root filesystem at most once (rootfs.sh caches it between runs).
    for (const release of new Set(matrix.map((m) => m.ctx.release))) {
      const r = bash([join(SUPPORT, 'rootfs.sh'), 'ensure', CODENAMES[release] ?? release], {}, 30 * 60_000);
      assert.equal(r.code, 0, `rootfs.sh ensure ${release} failed:\n${r.output.slice(-4000)}`);
    }
  });

  // One at a time: started in parallel, rspamd 3.4's start-up alone can outlast its init script's timeout.
  for (const { id, ctx } of matrix) {
    it(id, (t) => {
      const dir = mkdtempSync(join(tmpdir(), `mailrig-render-${id}-`));
      try {
        writeTree(dir, render(ctx));
        const ports =
          ctx.config.server.role === 'backup-mx' ? BACKUP_MX_PORTS : [...BASE_PORTS, ...(ctx.config.mail.pop3 ? [995] : [])];
        const started = Date.now();
        const r = bash([join(SUPPORT, 'chroot-check.sh'), CODENAMES[ctx.release] ?? ctx.release, dir, '--start'], {
          EXPECT_PORTS: ports.join(' '),
        });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (r.error) assert.fail(`${id}: chroot-check.sh did not finish (${r.error.message})\n${digest(r.output)}`);
        assert.equal(r.code, 0, `${id}: chroot-check.sh failed after ${seconds} s:\n${digest(r.output)}`);
        t.diagnostic(`${id}: validated and started in ${seconds} s`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
