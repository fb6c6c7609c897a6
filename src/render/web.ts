// What nginx serves besides ACME challenges: the MTA-STS policy, Thunderbird's autoconfig file and
// Outlook's autodiscover answer. Each is one static file for all domains (they all name the same
// server), under WEB_ROOT; the content functions are pure and unit-tested on their own.
import type { Config } from '../config/model.js';
import { mtaStsPolicy } from '../dns/mtasts.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

export const WEB_ROOT = '/var/www/mailrig';
/** ACME HTTP-01 webroot: a token lives at ACME_WEBROOT/.well-known/acme-challenge/<token>. */
export const ACME_WEBROOT = `${WEB_ROOT}/acme`;
export const MTA_STS_ROOT = `${WEB_ROOT}/mta-sts`;
export const AUTOCONFIG_ROOT = `${WEB_ROOT}/autoconfig`;
export const AUTODISCOVER_FILE = `${WEB_ROOT}/autodiscover/autodiscover.xml`;

/** Escapes text for XML element content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Thunderbird's config-v1.1.xml: IMAPS 993, POP3S 995 when enabled, submission on 465 and 587. */
export function autoconfigXml(config: Config): string {
  const domains = config.domains.flatMap((d) => (d.unicode === d.name ? [d.name] : [d.name, d.unicode]));
  const first = config.domains[0];
  return renderTemplate('web/config-v1.1.xml.hbs', {
    hostname: xmlEscape(config.server.hostname),
    domains: domains.map(xmlEscape),
    displayName: xmlEscape(`Mail on ${config.server.hostname}`),
    shortName: xmlEscape(first?.unicode ?? config.server.hostname),
    pop3: config.mail.pop3,
  });
}

/** Outlook's POX autodiscover response: the same answer for every address (see the template). */
export function autodiscoverXml(config: Config): string {
  return renderTemplate('web/autodiscover.xml.hbs', {
    hostname: xmlEscape(config.server.hostname),
    pop3: config.mail.pop3,
  });
}

export function renderWeb(ctx: RenderContext): FileSpec[] {
  // Static files: nginx serves the new content from the next request on.
  const file = filesOf('nginx');
  return [
    file(`${MTA_STS_ROOT}/.well-known/mta-sts.txt`, mtaStsPolicy(ctx.config)),
    file(`${AUTOCONFIG_ROOT}/mail/config-v1.1.xml`, autoconfigXml(ctx.config)),
    file(AUTODISCOVER_FILE, autodiscoverXml(ctx.config)),
  ];
}
