// Config + public keys → every DNS record the mail setup needs. Pure: no lookups, no files.
//
// Order is stable (the JSON output is documented as such): zones in the order their first record
// appears (mail domains as in mailrig.yaml, then the host's zone if it is none of them), and inside a
// zone the order records are built in below; PTR records come last with zone null.
import type { Config, Domain, Server } from '../config/model.js';
import { mxHosts, standbyOf } from '../config/model.js';
import type { PublicKeys } from '../keys/store.js';
import { mtaStsId, mtaStsPolicy } from './mtasts.js';
import { absolute, parentZone, reverseName, zoneFinder, zoneOf } from './names.js';
import type { DnsRecord, RecordType } from './types.js';

/** Where nginx serves calendars and contacts on the mail host (render/radicale.ts RADICALE.path). */
export const DAV_PATH = '/dav/';

/** Preference of the primary's MX; any number works, 10 leaves room on both sides. */
export const MX_PREFERENCE = 10;

/** Preference of each MX host: the primary 10, the backup MX hosts 20, 30, … in the file's order. */
export function mxPreference(index: number): number {
  return MX_PREFERENCE * (index + 1);
}

/** RFC 6186 / autodiscover services: [owner label, port, what it is]. */
const SERVICES: Array<[string, number, string]> = [
  ['_submissions._tcp', 465, 'mail submission over implicit TLS (RFC 8314)'],
  ['_submission._tcp', 587, 'mail submission with STARTTLS'],
  ['_imaps._tcp', 993, 'IMAP over TLS'],
];
const POP3S: [string, number, string] = ['_pop3s._tcp', 995, 'POP3 over TLS'];
const AUTODISCOVER: [string, number, string] = ['_autodiscover._tcp', 443, 'Outlook autodiscover over HTTPS'];

/** The CAA issuer domain of the configured ACME CA, or undefined when no public CA is known. */
export function caaIssuer(acme: string): string | undefined {
  // Let's Encrypt's staging environment checks CAA against the same identifier as production.
  return acme === 'letsencrypt' || acme === 'letsencrypt-staging' ? 'letsencrypt.org' : undefined;
}

/** The zone the mail host's own records go in: its mail domain, or else its parent (see names.ts). */
export function hostZone(config: Config, server: Server = config.server): string {
  return zoneOf(server.hostname, config.domains.map((d) => d.name)) ?? parentZone(server.hostname);
}

function shown(d: Domain): string {
  return d.unicode === d.name ? d.name : `${d.unicode} (${d.name})`;
}

export function buildRecords(config: Config, pub: PublicKeys): DnsRecord[] {
  const inMailDomain = zoneFinder(config.domains.map((d) => d.name));
  const ownZone = hostZone(config);
  // The other hosts' names outside every mail domain go in their own parent zones.
  const otherHosts = namedHosts(config).slice(1).map((s) => ({ suffix: `.${s.hostname}`, zone: hostZone(config, s) }));
  const zoneFor = (name: string) =>
    inMailDomain(name) ?? otherHosts.find((h) => `.${name}`.endsWith(h.suffix))?.zone ?? ownZone;
  // Grouped by zone as they are made (a Map keeps the order zones first appear in), so that
  // thousands of domains cost no scan of all records or all domains per record.
  const byZone = new Map<string, DnsRecord[]>();
  const add = (name: string, type: RecordType, value: string, purpose: string, required = true) => {
    const zone = zoneFor(name);
    const record: DnsRecord = { zone, name, type, ttl: config.dns.ttl, value, purpose, required };
    const list = byZone.get(zone);
    if (list) list.push(record);
    else byZone.set(zone, [record]);
  };

  const dkim = new Map<string, PublicKeys['dkim']>();
  for (const k of pub.dkim) {
    if (k.state === 'retired') continue;
    const list = dkim.get(k.domain);
    if (list) list.push(k);
    else dkim.set(k.domain, [k]);
  }
  const shared: Shared = { mtaStsId: mtaStsId(mtaStsPolicy(config)), domains: new Set(config.domains.map((d) => d.name)) };
  for (const d of config.domains) addDomain(config, dkim.get(d.name) ?? [], shared, d, add);
  const hosts = namedHosts(config);
  for (const server of hosts) addHost(config, server, pub, inMailDomain, add);

  return [...[...byZone.values()].flat(), ...hosts.flatMap((s) => ptrRecords(config, s))];
}

/**
 * Every host with a name in DNS (A/AAAA, TLSA, PTR): the MX hosts, then the standby, which gets no
 * MX while it is the standby but is reached by its name (and sends once it takes over).
 */
function namedHosts(config: Config): Server[] {
  const standby = standbyOf(config);
  return [...mxHosts(config), ...(standby ? [standby] : [])];
}

/** What every domain's records need and is the same for all of them. */
interface Shared {
  mtaStsId: string;
  domains: Set<string>;
}

type Add = (name: string, type: RecordType, value: string, purpose: string, required?: boolean) => void;

function addDomain(config: Config, dkim: PublicKeys['dkim'], shared: Shared, d: Domain, add: Add): void {
  const host = config.server.hostname;
  const name = d.name;
  const who = shown(d);
  const mx = mxHosts(config);
  add(name, 'MX', `${MX_PREFERENCE} ${absolute(host)}`, `Mail for ${who} is delivered to ${host}`);
  mx.slice(1).forEach((backup, i) => {
    add(name, 'MX', `${mxPreference(i + 1)} ${absolute(backup.hostname)}`, `Backup MX: mail for ${who} waits on ${backup.hostname} while ${host} does not answer`);
  });
  // The standby is no MX, but sends from the domain once a failover makes it the primary: SPF names
  // it now, so that a failover need not wait for a TXT change to spread.
  const standby = standbyOf(config);
  add(
    name,
    'TXT',
    standby ? `v=spf1 mx a:${standby.hostname} -all` : 'v=spf1 mx -all',
    standby
      ? `SPF: only the MX hosts (${mx.map((s) => s.hostname).join(', ')}) and the standby ${standby.hostname} may send mail from ${who}; everything else fails`
      : mx.length === 1
        ? `SPF: only the MX host may send mail from ${who}; everything else fails`
        : `SPF: only the MX hosts (${mx.map((s) => s.hostname).join(', ')}) may send mail from ${who}; everything else fails`,
  );
  for (const k of dkim) {
    const why =
      k.state === 'active'
        ? `DKIM public key (${k.algorithm}) that verifies mail signed for ${who}`
        : `DKIM public key (${k.algorithm}) published ahead of a key switch for ${who}`;
    add(`${k.selector}._domainkey.${name}`, 'TXT', `v=DKIM1; k=${k.algorithm}; p=${k.publicValue}`, why);
  }
  add(
    `_dmarc.${name}`,
    'TXT',
    `v=DMARC1; p=${d.dmarc.policy}; rua=mailto:${d.dmarc.rua}`,
    `DMARC: receivers ${d.dmarc.policy === 'none' ? 'only report on' : d.dmarc.policy} mail from ${who} that fails SPF and DKIM, and report to ${d.dmarc.rua}`,
  );
  addReportAuthorization(shared.domains, d, add);
  add(`_mta-sts.${name}`, 'TXT', `v=STSv1; id=${shared.mtaStsId}`, `MTA-STS: senders must use TLS to ${host}; the id changes when the policy does`);
  add(`_smtp._tls.${name}`, 'TXT', `v=TLSRPTv1; rua=mailto:${config.adminEmail}`, `TLS-RPT: senders report TLS failures to ${config.adminEmail}`);
  add(`mta-sts.${name}`, 'CNAME', absolute(host), `Serves the MTA-STS policy of ${who} (https://mta-sts.${name}/.well-known/mta-sts.txt)`);
  add(`autoconfig.${name}`, 'CNAME', absolute(host), 'Thunderbird and other clients find their settings here', false);
  add(`autodiscover.${name}`, 'CNAME', absolute(host), 'Outlook finds its settings here', false);
  const services = [...SERVICES, ...(config.mail.pop3 ? [POP3S] : []), AUTODISCOVER];
  for (const [label, port, what] of services) {
    add(`${label}.${name}`, 'SRV', `0 1 ${port} ${absolute(host)}`, `Mail clients find ${what} on ${host}:${port}`, false);
  }
  if (config.dav !== undefined) addDav(host, name, add);
  addCaa(config, name, who, add);
}

/** RFC 6764: CalDAV and CardDAV clients find the server (HTTPS on the mail host) and the path. */
function addDav(host: string, name: string, add: Add): void {
  for (const [label, what] of [['_caldavs._tcp', 'Calendar (CalDAV)'], ['_carddavs._tcp', 'Contacts (CardDAV)']] as const) {
    add(`${label}.${name}`, 'SRV', `0 1 443 ${absolute(host)}`, `${what} clients find the server on ${host}:443`, false);
    add(`${label}.${name}`, 'TXT', `path=${DAV_PATH}`, `${what} clients find the collections under https://${host}${DAV_PATH}`, false);
  }
}

/**
 * RFC 7489 7.1: a report address in another domain receives reports only if that domain says so.
 * mailrig can say so when the report domain is one of its own mail domains.
 */
function addReportAuthorization(domains: Set<string>, d: Domain, add: Add): void {
  const ruaDomain = d.dmarc.rua.slice(d.dmarc.rua.lastIndexOf('@') + 1);
  if (ruaDomain === d.name || !domains.has(ruaDomain)) return;
  add(
    `${d.name}._report._dmarc.${ruaDomain}`,
    'TXT',
    'v=DMARC1',
    `Lets ${ruaDomain} receive the DMARC reports of ${shown(d)}`,
    false,
  );
}

function addCaa(config: Config, name: string, who: string, add: Add): void {
  const issuer = caaIssuer(config.tls.acme);
  // A self-signed setup or a private ACME CA has no public CA to name; a CAA record would only block.
  if (issuer === undefined) return;
  add(
    name,
    'CAA',
    `0 issue "${issuer}"`,
    `Only ${issuer} may issue certificates for ${who} and its subdomains (add your other CAs here if you use any)`,
    false,
  );
}

function addHost(config: Config, server: Server, pub: PublicKeys, inMailDomain: (name: string) => string | undefined, add: Add): void {
  const { hostname: host, ipv4, ipv6 } = server;
  add(host, 'A', ipv4, `Address of the mail server ${host}`);
  if (ipv6 !== undefined) add(host, 'AAAA', ipv6, `IPv6 address of the mail server ${host}`);
  const tlsa = `_25._tcp.${host}`;
  add(tlsa, 'TLSA', `3 1 1 ${pub.tlsa.current}`, `DANE: the SMTP server's current TLS key (needs DNSSEC to take effect)`);
  if (pub.tlsa.next !== pub.tlsa.current) {
    add(tlsa, 'TLSA', `3 1 1 ${pub.tlsa.next}`, 'DANE: the next TLS key, published ahead so a key switch never breaks delivery');
  }
  if (config.domains.some((d) => d.name === host)) return;
  add(host, 'MX', '0 .', `Null MX (RFC 7505): ${host} itself receives no mail`);
  // Not "v=spf1 -all": receivers check the HELO name of bounces against it (RFC 7208 2.3), and the
  // host must pass that; "a" allows exactly the host's own addresses.
  add(host, 'TXT', 'v=spf1 a -all', `SPF: only ${host} itself may send as ${host} (its bounces and HELO)`);
  add(`_dmarc.${host}`, 'TXT', 'v=DMARC1; p=reject', `DMARC: reject mail claiming to be from ${host} that fails SPF and DKIM`);
  if (inMailDomain(host) === undefined) addCaa(config, host, host, add);
}

function ptrRecords(config: Config, server: Server): DnsRecord[] {
  const { hostname: host, ipv4, ipv6 } = server;
  return [ipv4, ...(ipv6 === undefined ? [] : [ipv6])].map((ip) => ({
    zone: null,
    name: reverseName(ip),
    type: 'PTR' as const,
    ttl: config.dns.ttl,
    value: absolute(host),
    purpose: `Reverse DNS of ${ip}: set it at your hosting provider (not in your zone); receivers distrust mail from addresses without it`,
    required: true,
  }));
}
