// Outbound routing through relays (smarthosts), from mailrig.yaml's relay section.
//
// Every relay is reached through one of two smtp(8) transports in master.cf: `smarthost` (STARTTLS,
// ports 587 and 25) or `smarthost-tls` (implicit TLS, port 465). Both require TLS and verify the
// relay's certificate against its host name (smtp_tls_security_level = secure), log as
// postfix/smarthost, and log in with the relay's entry of the password table. Which relay a message
// takes, most specific first:
//   1. its recipient's domain is in relay.recipient_domains: transport_maps;
//   2. its sender's domain is in relay.sender_domains: sender_dependent_default_transport_maps;
//   3. relay.default: default_transport;
//   4. otherwise the recipient's MX hosts, directly (Postfix's own smtp transport).
// Mail to this server's own domains is delivered here and never relayed.
//
// The password table is keyed by next-hop ([host]:port), so each relay host and port has one login.
import type { Config, Relay } from '../config/model.js';
import { relayKey, relays } from '../config/model.js';
import { KeyStoreError } from '../errors.js';
import type { MapRow } from './maps.js';

export const RELAY_PASSWORDS = '/etc/postfix/relay_passwords';
export const RELAY_SENDERS = '/etc/postfix/relay_senders';
export const RELAY_RECIPIENTS = '/etc/postfix/relay_recipients';
export const RELAY_CA = '/etc/postfix/relay_ca.pem';
/** Debian's bundle of the system's trusted CAs (ca-certificates). */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** The syslog name both relay transports log under: `postfix/smarthost/smtp[pid]: ...`. */
export const RELAY_LOG_NAME = 'postfix/smarthost';

/** The Postfix transport:nexthop a relay is reached by. */
export function relayTransport(r: Relay): string {
  return `${r.port === 465 ? 'smarthost-tls' : 'smarthost'}:${relayKey(r)}`;
}

/** `host:port` as people write it, for messages. */
export function showRelay(r: Relay): string {
  return `${r.host}:${r.port}${r.username ? ` (login ${r.username})` : ''}`;
}

export function relaySenderRows(config: Config): MapRow[] {
  return (config.relay?.senders ?? []).map((s) => [`@${s.domain}`, relayTransport(s.relay)] as const);
}

export function relayRecipientRows(config: Config): MapRow[] {
  return (config.relay?.recipients ?? []).map((s) => [s.domain, relayTransport(s.relay)] as const);
}

/** [host]:port login:password for each relay with a login; throws when a password was never set. */
export function relayPasswordRows(config: Config, passwords: Record<string, string>, keyDir: string): MapRow[] {
  return relays(config)
    .filter((r) => r.username !== undefined)
    .map((r) => {
      const password = passwords[r.host];
      if (password === undefined) {
        throw new KeyStoreError(`${keyDir}: no password for relay ${r.host} yet; run mailrig relay password ${r.host} --password-stdin`);
      }
      return [relayKey(r), `${r.username ?? ''}:${password}`] as const;
    });
}

export type RouteReason = 'recipient domain' | 'sender domain' | 'default relay' | 'direct';

export interface Route {
  /** undefined: straight to the recipient's MX hosts. */
  relay: Relay | undefined;
  reason: RouteReason;
}

/** Where a message from `senderDomain` to `recipientDomain` (both ASCII) goes, as Postfix decides it. */
export function routeFor(config: Config, senderDomain: string, recipientDomain?: string): Route {
  const r = config.relay;
  const byRecipient = recipientDomain === undefined ? undefined : r?.recipients.find((x) => x.domain === recipientDomain);
  if (byRecipient) return { relay: byRecipient.relay, reason: 'recipient domain' };
  const bySender = r?.senders.find((x) => x.domain === senderDomain);
  if (bySender) return { relay: bySender.relay, reason: 'sender domain' };
  if (r?.default) return { relay: r.default, reason: 'default relay' };
  return { relay: undefined, reason: 'direct' };
}

/** One line per mail domain (and per recipient-domain relay): how its outbound mail leaves. */
export function routingLines(config: Config): string[] {
  const via = (route: Route) => (route.relay ? `via ${showRelay(route.relay)} (${route.reason})` : "directly to the recipients' MX hosts (port 25)");
  const lines = config.domains.map((d) => `mail from ${d.unicode}: ${via(routeFor(config, d.name))}`);
  for (const x of config.relay?.recipients ?? []) lines.push(`mail to ${x.domain}, from any domain: via ${showRelay(x.relay)} (recipient domain)`);
  return lines;
}
