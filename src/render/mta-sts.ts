// MTA-STS for mail this host sends (RFC 8461), with DANE taking precedence where both exist.
//
// Debian's postfix-mta-sts-resolver (1.1 on Debian 12, 1.5 on Debian 13) runs mta-sts-daemon: it
// fetches each destination's policy and answers Postfix as a socketmap table, "secure match=<mx
// patterns>" or NOTFOUND. Asked alone it would answer "secure" for a domain that also has DANE, and
// Postfix would then check the certificate against the public CAs instead of the TLSA records (its
// README says as much). So Postfix asks mailrig's small front instead (a Python script, standard library
// only, and a systemd unit): it answers "dane" where the MX RRset is DNSSEC-secure and an
// MX host has TLSA records — or the lookup fails, when Postfix's own lookup defers — and passes the
// question on to mta-sts-daemon otherwise. Both listen on loopback only and run as the package's
// unprivileged user.
import type { Release } from '../config/model.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import type { FileSpec } from './types.js';
import { RESOLVER_ADDRESS } from './unbound.js';

/** Debian's postfix-mta-sts-resolver version per release, for the header comment. */
const VERSIONS: Record<Release, string> = { 'debian-12': '1.1', 'debian-13': '1.5' };

export const MTA_STS_CONF = '/etc/mta-sts-daemon.yml';
/** The package's own cache path; its postinst makes the directory, owned by its user. */
export const MTA_STS_CACHE = '/var/lib/mta-sts/cache.db';
/** The unprivileged user the package makes and runs mta-sts-daemon as; the front runs as it too. */
export const MTA_STS_USER = '_mta-sts';
export const STS_FRONT_UNIT = 'mailrig-sts-front';
/** Named so that its process name (the file name, at most 15 characters) tells it apart. */
export const STS_FRONT_SCRIPT = '/usr/local/lib/mailrig/sts-front';
export const STS_FRONT_PROCESS = 'sts-front';
export const STS_FRONT_FILES = {
  unit: `/etc/systemd/system/${STS_FRONT_UNIT}.service`,
  socket: `/etc/systemd/system/${STS_FRONT_UNIT}.socket`,
  initScript: `/etc/init.d/${STS_FRONT_UNIT}`,
};
/** The package's unit for mta-sts-daemon. */
export const MTA_STS_UNIT = 'postfix-mta-sts-resolver';
/** Where systemd is PID 1: its socket on the daemon's port, and the proxy service it starts. */
export const MTA_STS_ON_DEMAND_UNIT = 'mailrig-mta-sts';
export const MTA_STS_ON_DEMAND_FILES = {
  socket: `/etc/systemd/system/${MTA_STS_ON_DEMAND_UNIT}.socket`,
  proxy: `/etc/systemd/system/${MTA_STS_ON_DEMAND_UNIT}.service`,
  daemonDropIn: `/etc/systemd/system/${MTA_STS_UNIT}.service.d/mailrig.conf`,
  /** mta-sts-daemon's settings where it runs on demand: those of MTA_STS_CONF but the port. */
  conf: '/etc/mta-sts-daemon-on-demand.yml',
};
/** systemd's socket proxy (in the systemd package; /lib is /usr/lib on both releases). */
const SOCKET_PROXY = '/usr/lib/systemd/systemd-socket-proxyd';
/**
 * Loopback TCP ports: mta-sts-daemon's (the package's default), the front's, which Postfix asks, and
 * the one mta-sts-daemon listens on behind systemd's proxy where it runs on demand.
 */
export const STS_PORTS = { daemon: 8461, front: 8462, daemonOnDemand: 8463 } as const;
/** Seconds without a connection before the front and the proxy (with mta-sts-daemon) exit. */
export const STS_EXIT_IDLE_SECONDS = 300;
const LISTEN = '127.0.0.1';
/** Seconds mta-sts-daemon allows the TXT lookup and the HTTPS fetch of a policy, each. */
const FETCH_TIMEOUT = 10;

/** The table main.cf lists after the operator's own (the name is passed on to mta-sts-daemon). */
export const STS_POLICY_TABLE = `socketmap:inet:${LISTEN}:${STS_PORTS.front}:postfix`;

export function renderMtaSts(ctx: RenderContext): FileSpec[] {
  const file = (path: string, content: string): FileSpec => ({ path, content, mode: '0644', owner: 'root', group: 'root', service: 'mta-sts', onChange: 'restart', secret: false });
  const yml = (path: string, port: number, onDemand: boolean) =>
    renderTemplate('mta-sts/mta-sts-daemon.yml.hbs', {
      path,
      hostname: ctx.config.server.hostname,
      release: ctx.release,
      version: VERSIONS[ctx.release],
      listen: LISTEN,
      port,
      frontPort: STS_PORTS.front,
      cacheFile: MTA_STS_CACHE,
      fetchTimeout: FETCH_TIMEOUT,
      onDemand,
      conf: MTA_STS_CONF,
      publicPort: STS_PORTS.daemon,
    });
  const names = {
    unit: MTA_STS_ON_DEMAND_UNIT,
    daemonUnit: MTA_STS_UNIT,
    listen: LISTEN,
    port: STS_PORTS.daemon,
    daemonPort: STS_PORTS.daemonOnDemand,
    conf: MTA_STS_CONF,
    onDemandConf: MTA_STS_ON_DEMAND_FILES.conf,
    proxy: SOCKET_PROXY,
    user: MTA_STS_USER,
    exitIdleSeconds: STS_EXIT_IDLE_SECONDS,
  };
  return [
    // Read by the package's init script where systemd is not PID 1: the daemon then runs all the time.
    file(MTA_STS_CONF, yml(MTA_STS_CONF, STS_PORTS.daemon, false)),
    file(MTA_STS_ON_DEMAND_FILES.conf, yml(MTA_STS_ON_DEMAND_FILES.conf, STS_PORTS.daemonOnDemand, true)),
    file(MTA_STS_ON_DEMAND_FILES.daemonDropIn, renderTemplate('mta-sts/resolver-on-demand.conf.hbs', names)),
    file(MTA_STS_ON_DEMAND_FILES.proxy, renderTemplate('mta-sts/mailrig-mta-sts.service.hbs', names)),
    file(
      MTA_STS_ON_DEMAND_FILES.socket,
      renderTemplate('mta-sts/socket.hbs', { ...names, service: MTA_STS_ON_DEMAND_UNIT, description: "mailrig: mta-sts-daemon's socket (Postfix's MTA-STS policies, through the front)" }),
    ),
  ];
}

export function renderStsFront(_ctx: RenderContext): FileSpec[] {
  const file = (path: string, content: string, mode: string, onChange: 'restart' | 'none'): FileSpec => ({
    path,
    content,
    mode,
    owner: 'root',
    group: 'root',
    service: 'sts-front',
    onChange,
    secret: false,
  });
  const names = { unit: STS_FRONT_UNIT, script: STS_FRONT_SCRIPT, process: STS_FRONT_PROCESS, user: MTA_STS_USER, exitIdleSeconds: STS_EXIT_IDLE_SECONDS };
  const script = renderTemplate('mta-sts/sts-front.hbs', {
    unit: STS_FRONT_UNIT,
    listen: LISTEN,
    port: STS_PORTS.front,
    upstream: STS_PORTS.daemon,
    resolver: RESOLVER_ADDRESS,
    fetchTimeout: FETCH_TIMEOUT,
  });
  return [
    file(STS_FRONT_SCRIPT, script, '0755', 'restart'),
    file(STS_FRONT_FILES.unit, renderTemplate('mta-sts/mailrig-sts-front.service.hbs', names), '0644', 'restart'),
    file(
      STS_FRONT_FILES.socket,
      renderTemplate('mta-sts/socket.hbs', { listen: LISTEN, port: STS_PORTS.front, service: STS_FRONT_UNIT, description: "mailrig: the TLS policy front's socket (Postfix's smtp_tls_policy_maps)" }),
      '0644',
      'restart',
    ),
    file(STS_FRONT_FILES.initScript, renderTemplate('mta-sts/init.d.hbs', names), '0755', 'restart'),
  ];
}
