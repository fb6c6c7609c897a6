// unbound: the host's own caching resolver, which validates DNSSEC. Postfix (DANE needs answers a
// local validator vouches for), rspamd (DNS blocklists refuse the public resolvers) and the host
// itself (/etc/resolv.conf) use it, on loopback only.
//
// Debian 12 (1.17) and 13 (1.26) ship the same layout: /etc/unbound/unbound.conf, a conffile, only
// includes unbound.conf.d/*.conf (two more conffiles: the root key and the control socket). mailrig
// renders unbound.conf whole, without that include, so the package's other files are never read
// and never edited (apt keeps the changed conffile, see system/apt-conffiles). The root key comes
// from dns-root-data (/usr/share/dns/root.key), which exists as soon as the package is installed:
// unbound-checkconf can validate before unbound ever ran.
import type { Config, Release } from '../config/model.js';
import { forwarderAddress } from '../config/syntax.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

/** Debian's unbound version per release, for the header comment: the settings used exist in both. */
const VERSIONS: Record<Release, string> = { 'debian-12': '1.17', 'debian-13': '1.26' };

export const UNBOUND_CONF = '/etc/unbound/unbound.conf';
export const RESOLV_CONF = '/etc/resolv.conf';
/** Postfix's copy, read by its chrooted smtp(8) (see postfix.ts). */
export const POSTFIX_RESOLV_CONF = '/var/spool/postfix/etc/resolv.conf';
export const DHCLIENT_HOOK = '/etc/dhcp/dhclient-enter-hooks.d/zz-mailrig-resolv-conf';
/** Debian's dns-root-data: the root zone's trust anchor (DS records). */
export const ROOT_KEY = '/usr/share/dns/root.key';
/** The resolver as rspamd and the checks address it. */
export const RESOLVER_ADDRESS = '127.0.0.1';
export const RESOLVER_PORT = 53;

/**
 * /etc/resolv.conf as mailrig writes it (and Postfix's chroot copy): unbound alone. glibc asks the
 * next nameserver whenever one answers SERVFAIL, which is unbound's answer to a bogus signature, so
 * any fallback would turn a forged TLSA record into "no TLSA" and DANE into opportunistic TLS. And
 * Debian copies /etc/resolv.conf into Postfix's chroot from many places (each start, network and
 * resolvconf hooks, a path unit on Debian 13): Postfix's copy cannot be kept different.
 */
export function resolvConf(): string {
  return renderTemplate('unbound/resolv.conf.hbs', {});
}

function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1';
}

export function renderUnbound(ctx: RenderContext): FileSpec[] {
  const { config } = ctx;
  const ipv6 = config.server.ipv6 !== undefined;
  const ipv6Forwarder = config.resolver.forwarders.some((f) => forwarderAddress(f).includes(':'));
  const conf = renderTemplate('unbound/unbound.conf.hbs', {
    release: ctx.release,
    version: VERSIONS[ctx.release],
    ipv6,
    doIp6: ipv6 || ipv6Forwarder,
    ipv6Why: ipv6
      ? 'IPv6 too (server.ipv6 is set): answers on ::1, and asks servers over IPv6.'
      : ipv6Forwarder
        ? 'Answers on IPv4 only (server.ipv6 is not set), but asks the IPv6 forwarders over IPv6.'
        : 'IPv4 only: server.ipv6 is not set, so IPv6 servers could not be reached.',
    loopbackForwarder: config.resolver.forwarders.some((f) => isLoopback(forwarderAddress(f))),
    rootTrustAnchor: config.resolver.rootTrustAnchor,
    rootKey: ROOT_KEY,
    trustAnchors: config.resolver.trustAnchors,
    forwarders: config.resolver.forwarders,
  });
  const file = filesOf('unbound');
  return [
    // A changed interface needs a restart: unbound has dropped root before a reload could bind it.
    file(UNBOUND_CONF, conf, { onChange: 'restart' }),
    file('/etc/default/unbound', renderTemplate('unbound/default.hbs', {}), { onChange: 'restart' }),
    // glibc rereads a changed resolv.conf by itself; nothing to restart.
    file(RESOLV_CONF, resolvConf()),
    // Sourced by dhclient-script (where isc-dhcp-client is installed), not executed.
    file(DHCLIENT_HOOK, renderTemplate('unbound/dhclient-hook.hbs', {})),
  ];
}
