// rspamd: milter for Postfix, spam scoring, DKIM/ARC signing, DMARC/SPF checks, greylisting, Bayes.
// Only local.d/ (merged into the package's settings) and override.d/ (replacing them) are written,
// so package upgrades keep their own defaults and never ask about a changed conffile; the same goes
// for the systemd drop-in beside the package's unit. The worker files go to override.d because merging a
// second bind_socket or password would add to the package's values instead of replacing them.
//
// rspamd 3.4 (Debian 12) and 3.12 (Debian 13) accept the same files but for two differences:
// Ed25519 keys, written in the format both accept (see rspamd-dkim.ts), and how a blocklist rule
// matches answers (3.4 always as Lua patterns and rejects returncodes_matcher; 3.12 as equal strings
// unless told), so local.d/rbl.conf says luapattern to 3.12 only.
import { backupMxAddresses, backupMxHosts, holdsMailboxes, spamhausZones } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderLimitsLua } from './limits.js';
import { senderLoginRows } from './maps.js';
import { domainSelectors, dkimKeyPath, rspamdKeyFile, signingKeys } from './rspamd-dkim.js';
import { renderTemplate } from './template.js';
import { RESOLVER_ADDRESS, RESOLVER_PORT } from './unbound.js';
import type { FileSpec, OnChange } from './types.js';

/**
 * The external_relay rule of a host with backup MX hosts: inserted (score 0) when it took the
 * sender's address from a backup MX's Received: header.
 */
export const BACKUP_MX_RELAY_SYMBOL = 'MAILRIG_BACKUP_MX_RELAY';

/** The header the milter adds for the add_header action; Dovecot's sieve files such mail into Junk. */
export const SPAM_HEADER = { name: 'X-Spam', value: 'Yes' } as const;

export const RSPAMD_PORTS = { proxy: 11332, normal: 11333, controller: 11334 } as const;
export const REDIS_SERVER = '127.0.0.1:6379';
/** The system user rspamd runs as, on both releases. */
export const RSPAMD_USER = '_rspamd';

/** mailrig's drop-in for rspamd.service: the cache warm-up before every start (see its template). */
export const RSPAMD_DROP_IN = '/etc/systemd/system/rspamd.service.d/mailrig.conf';
/**
 * Loads rspamd's whole configuration once in a process that exits: that compiles the URL matcher's
 * Hyperscan database into /var/lib/rspamd when no valid cached copy is there, so that rspamd's main
 * process (which would otherwise compile it in its own heap and keep the memory) only maps it. Any
 * message will do; it only lists URLs, and /etc/hostname exists on every host.
 */
export const RSPAMD_WARM_UP = '/usr/bin/rspamadm mime urls /etc/hostname';
/** How long systemd lets the warm-up and the start take. */
const START_TIMEOUT_SECONDS = 300;
/**
 * A oneshot unit rspamd.service wants: after each start it restarts rspamd once when its hs_helper
 * had to compile the Hyperscan cache of the regular expressions (see its script's template).
 */
export const RSPAMD_SETTLE = {
  unit: 'mailrig-rspamd-settle',
  unitFile: '/etc/systemd/system/mailrig-rspamd-settle.service',
  script: '/usr/local/lib/mailrig/rspamd-settle',
} as const;
/** Seconds the settle script waits for each hs_helper's report; systemd allows both waits and a restart. */
const SETTLE_WAIT_SECONDS = 600;

/** The worker files: each binds its socket at start. */
const WORKERS = ['worker-proxy.inc', 'worker-normal.inc', 'worker-controller.inc'] as const;
const LOCAL = [
  'options.inc',
  'redis.conf',
  'actions.conf',
  'greylist.conf',
  'milter_headers.conf',
  'classifier-bayes.conf',
  'dkim_signing.conf',
  'arc.conf',
  'dmarc.conf',
  'rbl_group.conf',
  'surbl_group.conf',
] as const;

/**
 * What a host that backup MX hosts pass mail to needs to judge that mail by its sender (their
 * addresses and names), or false: on a backup MX itself, and on a host without any.
 */
function externalRelay(config: RenderContext['config']) {
  // The hosts the backup MX hosts pass mail on to: the primary, and the standby that may become it.
  const hosts = holdsMailboxes(config) ? backupMxHosts(config) : [];
  if (hosts.length === 0) return false;
  return { symbol: BACKUP_MX_RELAY_SYMBOL, addresses: backupMxAddresses(config), hosts: hosts.map((s) => s.hostname) };
}

function rspamdData(ctx: RenderContext) {
  const { config, keys } = ctx;
  const domains = config.domains.map((d) => d.name);
  const relay = externalRelay(config);
  // A backup MX signs nothing: it passes on mail its senders signed, and its own bounces need no
  // domain's key. The DKIM keys are where users send: the primary and the standby.
  const dkim = holdsMailboxes(config) ? domainSelectors(keys.dkim, domains) : [];
  return {
    ports: RSPAMD_PORTS,
    redis: REDIS_SERVER,
    resolver: `${RESOLVER_ADDRESS}:${RESOLVER_PORT}`,
    spamHeader: SPAM_HEADER,
    controllerHash: keys.rspamdControllerHash,
    spam: config.spam,
    dqs: config.spam.spamhausDqsKey === undefined ? false : spamhausZones(config.spam.spamhausDqsKey),
    blocklists: config.spam.blocklists,
    // rspamd 3.12 compares RBL answers as strings unless told to match patterns; 3.4 rejects the key.
    luaPatternKey: ctx.release !== 'debian-12',
    localAddrs: ['127.0.0.0/8', '::1', config.server.ipv4, ...(config.server.ipv6 ? [config.server.ipv6] : []), ...(relay ? relay.addresses : [])],
    externalRelay: relay,
    dkim,
    // Who may use which From: address (the rows of Postfix's sender_logins), as Lua string literals.
    owners: senderLoginRows(config).map(([address, logins]) => ({
      address: JSON.stringify(address),
      logins: logins.split(', ').map((l) => JSON.stringify(l)),
    })),
    // ARC seals are RSA only: RFC 8617 allows no other algorithm, so verifiers reject Ed25519 seals.
    arc: dkim.flatMap((d) => {
      const rsa = d.selectors.find((s) => s.algorithm === 'rsa');
      return rsa ? [{ domain: d.domain, selector: rsa.selector, path: rsa.path }] : [];
    }),
  };
}

function file(path: string, content: string, onChange: OnChange, extra: Partial<FileSpec> = {}): FileSpec {
  return { path, content, mode: '0644', owner: 'root', group: 'root', service: 'rspamd', onChange, secret: false, ...extra };
}

export function renderRspamd(ctx: RenderContext): FileSpec[] {
  const data = rspamdData(ctx);
  const domains = new Set(ctx.config.domains.map((d) => d.name));
  return [
    // local_addrs only: a reload (SIGHUP) reads the whole configuration again and its new workers
    // judge mail by the new list; the old workers finish their tasks first (see the descriptor).
    file('/etc/rspamd/override.d/options.inc', renderTemplate('rspamd/override.d/options.inc.hbs', data), 'reload'),
    // Workers bind sockets at start: a change needs a restart.
    ...WORKERS.map((name) =>
      file(`/etc/rspamd/override.d/${name}`, renderTemplate(`rspamd/override.d/${name}.hbs`, data), 'restart', {
        // The controller file holds the password hash: readable by rspamd only.
        ...(name === 'worker-controller.inc' ? { mode: '0640', group: RSPAMD_USER, secret: true } : {}),
      }),
    ),
    // systemd reads a changed drop-in after a daemon-reload (apply runs one), then the restart applies it.
    file(
      RSPAMD_DROP_IN,
      renderTemplate('rspamd/systemd/mailrig.conf.hbs', { user: RSPAMD_USER, warmUp: RSPAMD_WARM_UP, timeoutSeconds: START_TIMEOUT_SECONDS, settle: RSPAMD_SETTLE.unit }),
      'restart',
    ),
    // Read at each start of rspamd: a change needs nothing more than the daemon-reload apply runs.
    file(RSPAMD_SETTLE.unitFile, renderTemplate('rspamd/systemd/settle.service.hbs', { script: RSPAMD_SETTLE.script, timeoutSeconds: 2 * SETTLE_WAIT_SECONDS + START_TIMEOUT_SECONDS }), 'none'),
    file(
      RSPAMD_SETTLE.script,
      renderTemplate('rspamd/settle.hbs', { unit: RSPAMD_SETTLE.unit, logFile: '/var/log/rspamd/rspamd.log', cacheDir: '/var/lib/rspamd', waitSeconds: SETTLE_WAIT_SECONDS }),
      'none',
      { mode: '0755' },
    ),
    ...LOCAL.map((name) => file(`/etc/rspamd/local.d/${name}`, renderTemplate(`rspamd/local.d/${name}.hbs`, data), 'reload')),
    ...(data.externalRelay ? [file('/etc/rspamd/local.d/external_relay.conf', renderTemplate('rspamd/local.d/external_relay.conf.hbs', data), 'reload')] : []),
    // With a Spamhaus DQS key the zone names hold it: readable by rspamd only, its diff not shown.
    file('/etc/rspamd/local.d/rbl.conf', renderTemplate('rspamd/local.d/rbl.conf.hbs', data), 'reload', {
      ...(data.dqs ? { mode: '0640', group: RSPAMD_USER, secret: true } : {}),
    }),
    file('/etc/rspamd/rspamd.local.lua', renderTemplate('rspamd/rspamd.local.lua.hbs', data) + renderLimitsLua(ctx.config), 'reload'),
    ...signingKeys(holdsMailboxes(ctx.config) ? ctx.keys.dkim : [])
      .filter((k) => domains.has(k.domain))
      .map((k) => file(dkimKeyPath(k), rspamdKeyFile(k), 'reload', { mode: '0640', group: RSPAMD_USER, secret: true })),
  ];
}
