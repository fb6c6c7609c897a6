// What the host must have: the packages, the rendered files and the daemons that must run.
import type { Config } from '../config/model.js';
import { render, type RenderContext } from '../render/index.js';
import { DAEMONS, type Daemon, type DesiredState } from './plan.js';

export function packagesFor(config: Config): string[] {
  return [
    'postfix',
    'postfix-lmdb',
    'dovecot-core',
    'dovecot-imapd',
    'dovecot-lmtpd',
    'dovecot-sieve',
    'dovecot-managesieved',
    ...(config.mail.pop3 ? ['dovecot-pop3d'] : []),
    'rspamd',
    'redis-server',
    'nginx',
    // Blocks password guessers (its jails); nftables does the blocking.
    'fail2ban',
    'nftables',
    // What apply itself uses on the host: certificates for apt, ss and pgrep for health and facts.
    'ca-certificates',
    'openssl',
    'iproute2',
    'procps',
    // TLS (issue 6): the renewal agent runs on the release's own Node.js.
    ...(config.tls.acme === 'self-signed' ? [] : ['nodejs']),
    // Backups (issue 9): restic runs on the host.
    ...(config.backup ? ['restic'] : []),
  ];
}

/** The TCP ports each daemon must listen on once it runs. */
export function portsFor(config: Config): Record<Daemon, number[]> {
  return {
    postfix: [25, 465, 587],
    dovecot: [143, 993, 4190, ...(config.mail.pop3 ? [995] : [])],
    rspamd: [11332],
    redis: [6379],
    nginx: [80, 443],
    fail2ban: [],
  };
}

export function desiredState(ctx: RenderContext): DesiredState {
  return {
    packages: packagesFor(ctx.config),
    files: render(ctx),
    daemons: DAEMONS,
  };
}

/** The process name (comm) of each daemon's main process, for the facts. */
export const MAIN_PROCESS: Record<Daemon, string> = {
  postfix: 'master',
  dovecot: 'dovecot',
  rspamd: 'rspamd',
  redis: 'redis-server',
  nginx: 'nginx',
  fail2ban: 'fail2ban-server',
};
