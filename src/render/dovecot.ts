// Dovecot: IMAP/POP3, LMTP delivery, SASL for Postfix, sieve with spam filing and IMAPSieve learning.
//
// Debian 12 ships Dovecot 2.3 and Debian 13 ships 2.4, whose configuration syntax differs almost
// everywhere. The whole difference lives in DIALECTS below: one dovecot.conf template per version
// and the way a per-user quota is spelled in the passwd-file. Everything else (the data, the users
// file, sieve scripts, pipe scripts) is shared.
import { allMailboxes, type Release } from '../config/model.js';
import { appPasswordFiles, APP_PASSWORD_SLOTS, mainPasswordDeniedFiles, passwdFile, dovecotSize, type QuotaField } from './dovecot-users.js';
import { quotaWarningScript, vacationScript } from './dovecot-mailbox.js';
import { VMAIL } from './vmail.js';
import type { RenderContext } from './context.js';
import { davEnabled, RADICALE } from './radicale.js';
import { SPAM_HEADER } from './rspamd.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';
import { MOZILLA_INTERMEDIATE } from './tls.js';

interface Dialect {
  /** templates/dovecot/<dir>/dovecot.conf.hbs */
  dir: '2.3' | '2.4';
  quotaField: QuotaField;
  /** dovecot-lda's -o that stores a message without enforcing the quota (for quota warnings). */
  ldaNoEnforce: string;
}

const DIALECTS: Record<Release, Dialect> = {
  'debian-12': {
    dir: '2.3',
    quotaField: (b) => `userdb_quota_rule=*:storage=${dovecotSize(b)}`,
    ldaNoEnforce: 'plugin/quota=count:User quota:noenforcing',
  },
  'debian-13': { dir: '2.4', quotaField: (b) => `userdb_quota_storage_size=${dovecotSize(b)}`, ldaNoEnforce: 'quota_enforce=no' },
};

export const DOVECOT_PATHS = {
  conf: '/etc/dovecot/dovecot.conf',
  users: '/etc/dovecot/users',
  /** <slot>/<service>: passwd-files of app passwords (see dovecot-users.ts). */
  appPasswords: '/etc/dovecot/app-passwords',
  /** <service>: mailboxes whose main password is not for that service. */
  mainPasswordDenied: '/etc/dovecot/main-password-denied',
  log: '/var/log/dovecot.log',
  sieveDir: '/etc/dovecot/sieve',
  pipeDir: '/etc/dovecot/sieve-pipe',
  /** One vacation script per mailbox, <address>.sieve. */
  vacationDir: '/etc/dovecot/sieve/vacation',
  quotaWarning: '/etc/dovecot/quota-warning.sh',
  lda: '/usr/lib/dovecot/dovecot-lda',
  /** Fixed contracts with Postfix (see master.cf / main.cf). */
  authSocket: '/var/spool/postfix/private/auth',
  lmtpSocket: '/var/spool/postfix/private/dovecot-lmtp',
  quotaStatusSocket: '/var/spool/postfix/private/quota-status',
  tlsCert: '/etc/mailrig/tls/fullchain.pem',
  tlsKey: '/etc/mailrig/tls/privkey.pem',
} as const;


/** Sieve scripts: the global before-script for delivery, and the two IMAPSieve learning scripts. */
const SIEVE_SCRIPTS = ['spam-to-junk', 'learn-spam', 'learn-ham'] as const;
const PIPE_SCRIPTS = ['rspamd-learn-spam.sh', 'rspamd-learn-ham.sh'] as const;

function sievePath(name: (typeof SIEVE_SCRIPTS)[number]): string {
  return `${DOVECOT_PATHS.sieveDir}/${name}.sieve`;
}

function dovecotData(ctx: RenderContext) {
  const { config } = ctx;
  return {
    hostname: config.server.hostname,
    pop3: config.mail.pop3,
    protocols: ['imap', 'lmtp', 'sieve', ...(config.mail.pop3 ? ['pop3'] : [])].join(' '),
    paths: DOVECOT_PATHS,
    appPasswordSlots: APP_PASSWORD_SLOTS,
    vmail: { user: VMAIL.user, uid: VMAIL.uid, gid: VMAIL.gid, root: VMAIL.home },
    // Mozilla "intermediate", the same profile as Postfix and nginx; TLS 1.3 suites are OpenSSL's.
    tls: { ciphers: MOZILLA_INTERMEDIATE.ciphers.join(':'), curves: MOZILLA_INTERMEDIATE.curves.join(':') },
    sieve: {
      spamToJunk: sievePath('spam-to-junk'),
      learnSpam: sievePath('learn-spam'),
      learnHam: sievePath('learn-ham'),
      vacationDir: DOVECOT_PATHS.vacationDir,
    },
    spamHeader: SPAM_HEADER,
    messageSizeLimit: config.mail.messageSizeLimit,
    // Named relative to Dovecot's base_dir (/run/dovecot), as Dovecot asks.
    dav: davEnabled(config) && { authListener: RADICALE.authSocket.replace(/^\/run\/dovecot\//, ''), user: RADICALE.user },
  };
}

const file = filesOf('dovecot');

export function renderDovecot(ctx: RenderContext): FileSpec[] {
  const dialect = DIALECTS[ctx.release];
  const data = dovecotData(ctx);
  return [
    // A restart, not a reload: IMAPSieve and listener changes only take effect on a full restart.
    file(DOVECOT_PATHS.conf, renderTemplate(`dovecot/${dialect.dir}/dovecot.conf.hbs`, data), { onChange: 'restart' }),
    // Dovecot re-reads the passwd-file when it changes: user edits need no reload.
    file(
      DOVECOT_PATHS.users,
      `# Managed by mailrig from mailrig.yaml: edit that file, not this one.\n${passwdFile(ctx.config, dialect.quotaField)}`,
      { mode: '0640', group: 'dovecot', secret: true },
    ),
    // Re-read when they change, appear or go, as the users file is: app passwords need no reload.
    ...[...appPasswordFiles(ctx.config, DOVECOT_PATHS.appPasswords), ...mainPasswordDeniedFiles(ctx.config, DOVECOT_PATHS.mainPasswordDenied)].map((f) =>
      file(f.path, `${f.content}`, { mode: '0640', group: 'dovecot', secret: true }),
    ),
    // Pigeonhole compiles each script at first use into the user's home and recompiles when the
    // script is newer than that binary, so changed scripts need no sievec run on the host.
    ...SIEVE_SCRIPTS.map((s) => file(sievePath(s), renderTemplate(`dovecot/sieve/${s}.sieve.hbs`, data))),
    ...PIPE_SCRIPTS.map((s) =>
      file(`${DOVECOT_PATHS.pipeDir}/${s}`, renderTemplate(`dovecot/sieve-pipe/${s}.hbs`, data), { mode: '0755' }),
    ),
    file('/etc/logrotate.d/dovecot', renderTemplate('dovecot/logrotate.hbs', data)),
    file(DOVECOT_PATHS.quotaWarning, quotaWarningScript(ctx.config, DOVECOT_PATHS.lda, dialect.ldaNoEnforce), { mode: '0755' }),
    // Read at each delivery (and recompiled when newer than its binary): no reload needed.
    ...allMailboxes(ctx.config).map((m) => file(`${DOVECOT_PATHS.vacationDir}/${m.address}.sieve`, vacationScript(m))),
  ];
}
