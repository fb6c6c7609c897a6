// Config + keys → every file mailrig manages on the host, sorted by path. Pure and deterministic (no
// clock, no randomness), so the same input renders byte-identical trees.
import { renderBackup } from './backup.js';
import type { RenderContext } from './context.js';
import { renderDovecot } from './dovecot.js';
import { renderFail2ban } from './fail2ban.js';
import { renderNginx } from './nginx.js';
import { renderPostfix } from './postfix.js';
import { renderRedis } from './redis.js';
import { renderRspamd } from './rspamd.js';
import { renderTls } from './tls.js';
import type { FileSpec } from './types.js';
import { renderWeb } from './web.js';

export type { RenderContext } from './context.js';
export type { FileSpec, ManifestEntry, Service } from './types.js';

const RENDERERS: Array<(ctx: RenderContext) => FileSpec[]> = [
  renderTls,
  renderPostfix,
  renderDovecot,
  renderRspamd,
  renderRedis,
  renderNginx,
  renderWeb,
  renderFail2ban,
  renderBackup,
];

export function render(ctx: RenderContext): FileSpec[] {
  const files = RENDERERS.flatMap((r) => r(ctx));
  const seen = new Set<string>();
  for (const f of files) {
    // Two renderers claiming one path is a bug in mailrig, not in the operator's config.
    if (seen.has(f.path)) throw new Error(`render: two renderers produce ${f.path}`);
    seen.add(f.path);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
