// fail2ban: an address that keeps failing to log in (SMTP AUTH, IMAP) is refused on the mail ports
// for a while. Two jails from Debian's own filters (postfix[mode=auth], dovecot), reading the log
// files Postfix (maillog_file) and Dovecot (log_path) write themselves, so no syslog is needed.
// With dav: radicale, a third jail reads Radicale's failed logins from the journal and bans on 443.
import type { RenderContext } from './context.js';
import { DOVECOT_PATHS } from './dovecot.js';
import { POSTFIX_LOG } from './postfix.js';
import { davEnabled } from './radicale.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

export const FAIL2BAN_JAILS = '/etc/fail2ban/jail.d/mailrig.conf';
export const FAIL2BAN_DOVECOT_FILTER = '/etc/fail2ban/filter.d/mailrig-dovecot.conf';
export const FAIL2BAN_DAV_FILTER = '/etc/fail2ban/filter.d/mailrig-dav.conf';

/** Failures older than this no longer count towards a ban (fail2ban's own default). */
const FIND_MINUTES = 10;

export function renderFail2ban(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  // The ports a blocked address loses: every port where it could guess a password, and 25 too, so
  // a guesser cannot keep talking to the server at all. Never 22.
  const ports = [25, 465, 587, 143, 993, 4190, ...(config.mail.pop3 ? [995] : [])];
  const content = renderTemplate('fail2ban/mailrig.conf.hbs', {
    maxRetry: config.security.maxAuthFailures,
    banMinutes: config.security.banMinutes,
    findMinutes: FIND_MINUTES,
    postfixLog: POSTFIX_LOG,
    dovecotLog: DOVECOT_PATHS.log,
    pop3: config.mail.pop3,
    ports: ports.join(','),
    dav: davEnabled(config),
  });
  const file = filesOf('fail2ban', { onChange: 'reload' });
  return [
    file(FAIL2BAN_JAILS, content),
    file(FAIL2BAN_DOVECOT_FILTER, renderTemplate('fail2ban/mailrig-dovecot.conf.hbs', {})),
    ...(davEnabled(config) ? [file(FAIL2BAN_DAV_FILTER, renderTemplate('fail2ban/mailrig-dav.conf.hbs', {}))] : []),
  ];
}
