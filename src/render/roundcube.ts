// Roundcube webmail (webmail: roundcube): Debian's roundcube with its SQLite database, run by a PHP-FPM
// pool of its own and served by the existing nginx on the mail host's name under /mail/.
//
// Roundcube logs in to Dovecot and sends through Postfix with the user's own credentials, over
// implicit TLS on loopback (993, 465; ManageSieve with STARTTLS on 4190), checking the certificate
// against the mail host's name: Dovecot and Postfix require TLS before any login, also on loopback,
// and a verified connection there needs no exception in either of them.
//
// Debian 12 ships PHP 8.2, Debian 13 PHP 8.4; the paths and units that differ are in DIALECTS only.
import type { Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { TLS_CERT } from './tls.js';
import { NGINX_HOST_DIR } from './nginx.js';
import { filesOf, type FileSpec } from './types.js';

interface PhpDialect {
  php: string;
  roundcube: string;
}

const DIALECTS: Record<Release, PhpDialect> = {
  'debian-12': { php: '8.2', roundcube: '1.6.5' },
  'debian-13': { php: '8.4', roundcube: '1.6.22' },
};

/** The PHP version of a release: its php<version>-fpm package, unit and pool directory. */
export function phpVersion(release: Release): string {
  return DIALECTS[release].php;
}

export const ROUNDCUBE_CONFIG = '/etc/roundcube/config.inc.php';
export const ROUNDCUBE_MANAGESIEVE_CONFIG = '/etc/roundcube/plugins/managesieve/config.inc.php';
/** Where Debian's package puts the web root (index.php, and links to the skins and plugins). */
export const ROUNDCUBE_WEB_ROOT = '/var/lib/roundcube/public_html';
/** Roundcube's own log directory (Debian links /var/lib/roundcube/logs to it). */
/** The SQLite database's directory, as Debian's package makes it (dbconfig-common) and the config includes it. */
export const ROUNDCUBE_DATABASE_DIR = '/var/lib/dbconfig-common/sqlite3/roundcube';
export const ROUNDCUBE_LOG_DIR = '/var/log/roundcube';
/** Logins, failed ones with the client's address (log_logins): the fail2ban jail reads it. */
export const ROUNDCUBE_LOGINS_LOG = `${ROUNDCUBE_LOG_DIR}/userlogins.log`;
export const ROUNDCUBE_SOCKET = '/run/php/mailrig-roundcube.sock';
/** The nginx part the mail host's server block includes when webmail is on. */
export const WEBMAIL_NGINX_SNIPPET = `${NGINX_HOST_DIR}/webmail.conf`;
export const ROUNDCUBE_JAIL = '/etc/fail2ban/jail.d/mailrig-roundcube.conf';
export const ROUNDCUBE_FILTER = '/etc/fail2ban/filter.d/mailrig-roundcube.conf';
/** Where the webmail answers on the mail host's name. */
export const WEBMAIL_PATH = '/mail/';

/**
 * The pool file: sorted after Debian's www.conf, so that its [www] section (which php-fpm merges into
 * the pool of that name) can make Debian's unused default pool start its workers on demand only.
 */
export function phpPoolFile(release: Release): string {
  return `/etc/php/${phpVersion(release)}/fpm/pool.d/zz-mailrig-roundcube.conf`;
}

/** Single-quoted PHP string literal. */
export function phpString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** nginx and PHP take sizes with a K or M suffix: the message size limit, rounded up to a MiB. */
function sizeMiB(bytes: number): string {
  return `${Math.ceil(bytes / 1024 ** 2)}M`;
}

export function renderRoundcube(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  if (config.webmail !== 'roundcube') return [];
  const desKey = ctx.keys.roundcubeDesKey;
  // The project loader makes it whenever webmail is on: its absence is a bug in mailrig.
  if (desKey === undefined) throw new Error('render: webmail is on but the key store has no Roundcube des_key');
  const dialect = DIALECTS[ctx.release];
  const hostname = config.server.hostname;
  const selfSigned = config.tls.acme === 'self-signed';
  const upload = sizeMiB(config.mail.messageSizeLimit);
  const data = {
    release: ctx.release,
    php: dialect.php,
    roundcubeVersion: dialect.roundcube,
    hostname: phpString(hostname),
    hostnamePlain: hostname,
    // A self-signed certificate is its own trust anchor; a CA-issued one chains to the system's CAs.
    cafile: selfSigned ? phpString(TLS_CERT) : undefined,
    desKey: phpString(desKey),
    messageSize: config.mail.messageSizeLimit,
    upload,
    socket: ROUNDCUBE_SOCKET,
    webRoot: ROUNDCUBE_WEB_ROOT,
    loginsLog: ROUNDCUBE_LOGINS_LOG,
    maxRetry: config.security.maxAuthFailures,
    banMinutes: config.security.banMinutes,
    findMinutes: 10,
  };
  const file = filesOf('roundcube');
  const www = { mode: '0640', group: 'www-data' } as const;
  return [
    // Read per request: a change needs no reload. Holds the des_key: www-data may read it, nobody else.
    file(ROUNDCUBE_CONFIG, renderTemplate('roundcube/config.inc.php.hbs', data), { ...www, secret: true }),
    file(ROUNDCUBE_MANAGESIEVE_CONFIG, renderTemplate('roundcube/managesieve.inc.php.hbs', data), www),
    file(phpPoolFile(ctx.release), renderTemplate('roundcube/pool.conf.hbs', data), { onChange: 'reload' }),
    file(WEBMAIL_NGINX_SNIPPET, renderTemplate('roundcube/nginx.conf.hbs', data), { service: 'nginx', onChange: 'reload' }),
    file(ROUNDCUBE_FILTER, renderTemplate('roundcube/filter.conf.hbs', data), { service: 'fail2ban', onChange: 'reload' }),
    file(ROUNDCUBE_JAIL, renderTemplate('roundcube/jail.conf.hbs', data), { service: 'fail2ban', onChange: 'reload' }),
  ];
}

