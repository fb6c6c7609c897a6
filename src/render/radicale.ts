// Radicale: calendars (CalDAV) and contacts (CardDAV) for every mailbox, on 127.0.0.1 behind nginx
// under https://<mail host>/dav/. Logins are checked by Dovecot's auth service, so the mail password,
// the app passwords (service dav) and their hashes have one source of truth. Radicale 3.1 (Debian 12)
// cannot ask Dovecot, and the built-in `dovecot` auth of 3.5.3 (Debian 13) reads Dovecot's handshake
// with a single recv(): Dovecot 2.4 sends its VERSION line on its own first, so every login fails.
// mailrig renders a small auth plugin speaking the same auth-client protocol for both.
// Everything that differs between Debian releases is in DIALECTS, nowhere else.
import type { Config, Release } from '../config/model.js';
import { DAV_PATH } from '../dns/records.js';
import type { RenderContext } from './context.js';
import { NGINX_HOST_DIR } from './nginx.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

interface RadicaleDialect {
  version: string;
  /** Where mailrig's auth plugin goes: a directory on the release's python3 path. */
  pluginDir: string;
}

export const RADICALE_PLUGIN_MODULE = 'mailrig_radicale_auth';

const DIALECTS: Record<Release, RadicaleDialect> = {
  'debian-12': { version: '3.1', pluginDir: '/usr/local/lib/python3.11/dist-packages' },
  'debian-13': { version: '3.5', pluginDir: '/usr/local/lib/python3.13/dist-packages' },
};

export const RADICALE = {
  config: '/etc/radicale/config',
  /** Debian's storage path, which its unit may write: backed up, kept when dav is switched off. */
  collections: '/var/lib/radicale/collections',
  port: 5232,
  /** A Dovecot auth listener for Radicale alone (mode 0600, owned by radicale). */
  authSocket: '/run/dovecot/auth-radicale',
  user: 'radicale',
  /** The URL path nginx serves it under on the mail host name (the DNS TXT records name it). */
  path: DAV_PATH,
} as const;

/** Whether the config turns calendars and contacts on. */
export function davEnabled(config: Config): boolean {
  return config.dav === 'radicale';
}

export function renderRadicale(ctx: RenderContext): FileSpec[] {
  if (!davEnabled(ctx.config)) return [];
  const dialect = DIALECTS[ctx.release];
  const data = {
    release: ctx.release,
    version: dialect.version,
    authType: RADICALE_PLUGIN_MODULE,
    port: RADICALE.port,
    authSocket: RADICALE.authSocket,
    collections: RADICALE.collections,
    path: RADICALE.path,
    scriptName: RADICALE.path.replace(/\/$/, ''),
  };
  // Radicale has no reload: a changed setting or plugin takes a restart.
  const file = filesOf('radicale', { onChange: 'restart' });
  return [
    // Readable by Radicale, not writable: it holds no secret, but Radicale must not change its rules.
    file(RADICALE.config, renderTemplate('radicale/config.hbs', data), { mode: '0640', group: RADICALE.user }),
    file(`${dialect.pluginDir}/${RADICALE_PLUGIN_MODULE}.py`, renderTemplate('radicale/auth-plugin.py.hbs', data)),
    file(`${NGINX_HOST_DIR}/dav.conf`, renderTemplate('radicale/nginx-dav.conf.hbs', data), { service: 'nginx', onChange: 'reload' }),
  ];
}
