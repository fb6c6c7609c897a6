// nginx: ACME challenges on port 80 (and a redirect to https for the rest), and on 443 the MTA-STS
// policy, Thunderbird autoconfig and Outlook autodiscover for every domain. nginx.conf is rendered
// whole so that it includes only conf.d/ — which leaves Debian's default site out without deleting it.
// Everything that differs between Debian releases is in DIALECTS, nowhere else.
import type { Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { MOZILLA_INTERMEDIATE, TLS_CERT, TLS_KEY } from './tls.js';
import { filesOf, type FileSpec } from './types.js';
import { ACME_WEBROOT, AUTOCONFIG_ROOT, AUTODISCOVER_FILE, MTA_STS_ROOT } from './web.js';

/** Files other services render here are included in the mail host's server block (its locations). */
export const NGINX_HOST_DIR = '/etc/nginx/mailrig-host.d';

interface NginxDialect {
  version: string;
  /** The `http2 on;` directive exists from 1.25.1; older versions take `listen ... http2`. */
  http2Directive: boolean;
  /** Session ticket keys are rotated automatically only from 1.23.2: turn tickets off before that. */
  sessionTicketsOff: boolean;
}

const DIALECTS: Record<Release, NginxDialect> = {
  'debian-12': { version: '1.22', http2Directive: false, sessionTicketsOff: true },
  'debian-13': { version: '1.26', http2Directive: true, sessionTicketsOff: false },
};

export function renderNginx(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  const dialect = DIALECTS[ctx.release];
  const names = (prefix: string) => config.domains.map((d) => `${prefix}.${d.name}`);
  const http2 = dialect.http2Directive ? '' : ' http2';
  const data = {
    release: ctx.release,
    nginxVersion: dialect.version,
    hostname: config.server.hostname,
    ipv6: config.server.ipv6 !== undefined,
    http2Directive: dialect.http2Directive,
    sessionTicketsOff: dialect.sessionTicketsOff,
    listen443: `listen 443 ssl${http2}`,
    listen443v6: `listen [::]:443 ssl${http2}`,
    tlsCert: TLS_CERT,
    tlsKey: TLS_KEY,
    protocols: MOZILLA_INTERMEDIATE.protocols.join(' '),
    ciphers: MOZILLA_INTERMEDIATE.ciphers.join(':'),
    curves: MOZILLA_INTERMEDIATE.curves.join(':'),
    acmeWebroot: ACME_WEBROOT,
    mtaStsRoot: MTA_STS_ROOT,
    autoconfigRoot: AUTOCONFIG_ROOT,
    autodiscoverFile: AUTODISCOVER_FILE,
    hostIncludes: NGINX_HOST_DIR,
    mtaStsNames: names('mta-sts'),
    autoconfigNames: names('autoconfig'),
    autodiscoverNames: names('autodiscover'),
  };
  return [
    file('/etc/nginx/nginx.conf', renderTemplate('nginx/nginx.conf.hbs', data)),
    file('/etc/nginx/conf.d/mailrig.conf', renderTemplate('nginx/mailrig.conf.hbs', data)),
  ];
}

const file = filesOf('nginx', { onChange: 'reload' });
