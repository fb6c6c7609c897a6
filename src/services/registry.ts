// Every service mailrig manages. Adding one is a file in this folder and a line here. Daemons are
// started in this order: unbound first, as rspamd and Postfix resolve names through it; Redis
// before rspamd uses it; postsrsd before Postfix looks addresses up in it; Postfix before Dovecot,
// whose auth and LMTP sockets live in the directory Postfix creates under its queue
// (/var/spool/postfix/private). mta-sts-daemon and the TLS policy front Postfix asks before
// Postfix, after unbound, through which both resolve; Radicale (which asks Dovecot's auth service)
// and PHP-FPM (webmail) before nginx passes requests to them.
import { acmeAgent } from './acme-agent.js';
import { backup } from './backup.js';
import { dovecot } from './dovecot.js';
import { fail2ban } from './fail2ban.js';
import { limits } from './limits.js';
import { mtaSts, stsFront } from './mta-sts.js';
import { nginx } from './nginx.js';
import { postfix } from './postfix.js';
import { postsrsd } from './postsrsd.js';
import { radicale } from './radicale.js';
import { redis } from './redis.js';
import { replica, replication } from './replication.js';
import { roundcube } from './roundcube.js';
import { rspamd } from './rspamd.js';
import { system } from './system.js';
import { tls } from './tls.js';
import { unbound } from './unbound.js';
import type { ServiceDescriptor } from './types.js';

export const SERVICES: readonly ServiceDescriptor[] = [
  unbound,
  redis,
  rspamd,
  postsrsd,
  mtaSts,
  stsFront,
  postfix,
  dovecot,
  radicale,
  roundcube,
  nginx,
  fail2ban,
  tls,
  system,
  acmeAgent,
  backup,
  limits,
  replication,
  replica,
];
