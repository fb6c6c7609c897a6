// postsrsd: the Sender Rewriting Scheme for mail this host forwards (an alias or catch-all that
// delivers to another domain). Postfix asks it over loopback TCP tables: the forward table rewrites
// an outside sender into the primary domain, the reverse table turns a bounce to such an address
// back into the original sender (main.cf, "Forwarding").
//
// Debian 12 and 13 both ship postsrsd 1.10, configured by /etc/default/postsrsd (a file the
// package's postinst writes only when it is missing, and never a conffile) and a secret file.
import type { Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

/** Debian's postsrsd version per release, for the header comment: the settings are the same. */
const VERSIONS: Record<Release, string> = { 'debian-12': '1.10', 'debian-13': '1.10' };

export const POSTSRSD_DEFAULTS = '/etc/default/postsrsd';
/** The package's own path for the secret (its postinst makes one there when it is missing). */
export const POSTSRSD_SECRET = '/etc/postsrsd.secret';
/** Loopback TCP ports of the forward (sender) and reverse (bounce recipient) tables. */
export const SRS_PORTS = { forward: 10001, reverse: 10002 } as const;

/** The table lookups main.cf makes. */
export const SRS_TABLES = {
  forward: `tcp:127.0.0.1:${SRS_PORTS.forward}`,
  reverse: `tcp:127.0.0.1:${SRS_PORTS.reverse}`,
} as const;

/** The domain rewritten senders get: the first mail domain, whose SPF record names this host. */
export function srsDomain(ctx: Pick<RenderContext, 'config'>): string {
  const first = ctx.config.domains[0];
  return first ? first.name : ctx.config.server.hostname;
}

export function renderPostsrsd(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  const domain = srsDomain(ctx);
  const exclude = [...new Set([...config.domains.map((d) => d.name), config.server.hostname])].filter((d) => d !== domain);
  const defaults = renderTemplate('postsrsd/postsrsd.hbs', {
    hostname: config.server.hostname,
    release: ctx.release,
    version: VERSIONS[ctx.release],
    domain,
    exclude: exclude.join(','),
    secretFile: POSTSRSD_SECRET,
    forwardPort: SRS_PORTS.forward,
    reversePort: SRS_PORTS.reverse,
  });
  const file = filesOf('postsrsd', { onChange: 'restart' });
  return [
    file(POSTSRSD_DEFAULTS, defaults),
    // postsrsd reads it as root before it drops privileges: nobody else needs it.
    file(POSTSRSD_SECRET, `${ctx.keys.srsSecret}\n`, { mode: '0600', secret: true }),
  ];
}
