// Sending limits of logged-in users: rspamd counts each user's messages in Redis and refuses the
// excess at submission (the Lua rule rendered into rspamd.local.lua); the first refusal of a user in
// a day queues a notice, and a small scheduled job on the host mails the queued notices to the admin
// (admin_email) through the local sendmail. `mailrig user list` reads who was limited from Redis.
import type { Config } from '../config/model.js';
import type { RenderContext } from './context.js';
import { quote } from '../host/shell.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

export const LIMIT_NOTICE_UNIT = 'mailrig-limit-notice';
export const LIMIT_NOTICE_SCRIPT = '/usr/local/sbin/mailrig-limit-notice';
export const LIMIT_NOTICE_LOG = '/var/log/mailrig-limit-notice.log';
/** Redis keys: per-user counters, the day's "was limited" marker (24 h), the queue of notices to mail. */
export const LIMIT_KEYS = { counters: 'mailrig:sent:', limited: 'mailrig:limited:', notices: 'mailrig:limit-notices' } as const;

export const LIMIT_NOTICE_FILES = {
  service: `/etc/systemd/system/${LIMIT_NOTICE_UNIT}.service`,
  timer: `/etc/systemd/system/${LIMIT_NOTICE_UNIT}.timer`,
  cron: `/etc/cron.d/${LIMIT_NOTICE_UNIT}`,
};

/** The Lua rule, appended to rspamd.local.lua: the server's limits and every mailbox's own. */
export function renderLimitsLua(config: Config): string {
  const d = config.limits;
  const users = config.domains
    .flatMap((dom) => dom.mailboxes)
    .filter((m) => m.limits.perMinute !== d.perMinute || m.limits.perDay !== d.perDay || m.limits.recipients !== d.recipients)
    .map((m) => ({ address: JSON.stringify(m.address), ...m.limits }));
  return renderTemplate('rspamd/limits.lua.hbs', {
    defaults: d,
    users,
    counterPrefix: LIMIT_KEYS.counters,
    limitedPrefix: LIMIT_KEYS.limited,
    notices: LIMIT_KEYS.notices,
  });
}

/** The notice job: its script, and its schedule as a systemd timer and as a cron entry. */
export function renderLimitNotice(ctx: RenderContext): FileSpec[] {
  const file = filesOf('limits');
  return [
    file(
      LIMIT_NOTICE_SCRIPT,
      renderTemplate('limits/mailrig-limit-notice.hbs', {
        admin: ctx.config.adminEmail,
        adminWord: quote(ctx.config.adminEmail),
        hostname: ctx.config.server.hostname,
        limited: LIMIT_KEYS.limited,
        notices: LIMIT_KEYS.notices,
      }),
      { mode: '0755' },
    ),
    file(LIMIT_NOTICE_FILES.service, renderTemplate('limits/mailrig-limit-notice.service.hbs', { script: LIMIT_NOTICE_SCRIPT })),
    file(LIMIT_NOTICE_FILES.timer, renderTemplate('limits/mailrig-limit-notice.timer.hbs', {})),
    file(
      LIMIT_NOTICE_FILES.cron,
      renderTemplate('limits/cron.hbs', { unit: LIMIT_NOTICE_UNIT, script: LIMIT_NOTICE_SCRIPT, logFile: LIMIT_NOTICE_LOG }),
    ),
  ];
}
