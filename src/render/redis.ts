// Redis for rspamd: loopback only, capped memory, RDB snapshots. The file is rendered whole (for
// Debian's package paths and init script); both releases take the same settings.
import type { Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

/** Debian's Redis version per release, for the header comment: the settings used exist in both. */
const VERSIONS: Record<Release, string> = { 'debian-12': '7.0', 'debian-13': '8.0' };

/** Enough for Bayes statistics of a few busy mailboxes plus greylisting; small beside the mail daemons. */
export const REDIS_MAXMEMORY = '128mb';

export function renderRedis(ctx: RenderContext): FileSpec[] {
  const content = renderTemplate('redis/redis.conf.hbs', {
    release: ctx.release,
    redisVersion: VERSIONS[ctx.release],
    maxmemory: REDIS_MAXMEMORY,
  });
  // Debian ships redis.conf as 0640 redis:redis; root owns it here, so Redis cannot rewrite it.
  return [filesOf('redis')('/etc/redis/redis.conf', content, { mode: '0640', group: 'redis', onChange: 'restart' })];
}
