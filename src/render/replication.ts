// The standby's replication: dsync over SSH, primary → standby, every minute (docs/SCALING.md,
// README "A standby replica"). On the primary: the key store's replication key (root-only), the
// standby's host key pinned in a known_hosts file of its own, the list of mailboxes, the script that
// runs `doveadm sync` (two-way) for each, and its schedule as a systemd timer and a cron entry. On the
// standby: authorized_keys2 (a file mailrig owns whole; the operator's authorized_keys is never
// touched) letting that key run nothing but the wrapper, and the wrapper that allows only
// `doveadm dsync-server -u<user>` for a mailbox of the list.
import { allMailboxes, primaryOf, standbyOf, type Config, type Server } from '../config/model.js';
import { KeyStoreError } from '../errors.js';
import { REPLICATION_KEY_COMMENT } from '../keys/replication.js';
import type { RenderContext } from './context.js';
import { renderTemplate } from './template.js';
import { filesOf, type FileSpec } from './types.js';

export const REPLICATION_UNIT = 'mailrig-replicate';
export const REPLICATION_DIR = '/etc/mailrig/replication';
export const REPLICATION_FILES = {
  key: `${REPLICATION_DIR}/id_ed25519`,
  knownHosts: `${REPLICATION_DIR}/known_hosts`,
  users: `${REPLICATION_DIR}/users`,
  script: `/usr/local/sbin/${REPLICATION_UNIT}`,
  log: `/var/log/${REPLICATION_UNIT}.log`,
  service: `/etc/systemd/system/${REPLICATION_UNIT}.service`,
  timer: `/etc/systemd/system/${REPLICATION_UNIT}.timer`,
  cron: `/etc/cron.d/${REPLICATION_UNIT}`,
  authorizedKeys: '/root/.ssh/authorized_keys2',
  wrapper: '/usr/local/sbin/mailrig-dsync-server',
};

/** The name the standby's host key is pinned under (ssh's HostKeyAlias): the same whatever its address. */
export const STANDBY_KEY_ALIAS = 'mailrig-standby';

/** Where the primary's ssh reaches the standby: its IPv4 address, on the port of its ssh: target (22 unless it names one). */
export function standbyEndpoint(standby: Server): { address: string; port: number } {
  const port = /^[^@\s]+@[^:\s]+:(\d+)$/.exec(standby.ssh)?.[1];
  return { address: standby.ipv4, port: port === undefined ? 22 : Number(port) };
}

/** The mailboxes replicated: every one that receives mail (a send-only mailbox stores none). */
export function replicatedUsers(config: Config): string[] {
  return allMailboxes(config)
    .filter((m) => !m.sendOnly)
    .map((m) => m.address);
}

function keysOf(ctx: RenderContext) {
  const keys = ctx.keys.replication;
  if (!keys) throw new KeyStoreError(`${ctx.keys.dir}: no replication key for the standby (mailrig makes it when mailrig.yaml lists a standby)`);
  return keys;
}

/** The primary's side: key, pinned host key, users, script and schedule. */
export function renderReplicationSource(ctx: RenderContext): FileSpec[] {
  const standby = standbyOf(ctx.config);
  if (!standby || ctx.config.server.role !== 'primary') return [];
  const keys = keysOf(ctx);
  const { address, port } = standbyEndpoint(standby);
  const file = filesOf('replication');
  const knownHosts =
    keys.standbyHostKey === undefined
      ? `# Rendered by mailrig: the host key of ${standby.name} is pinned here once mailrig has reached it (mailrig apply).\n`
      : `# Rendered by mailrig: the SSH host key of the standby (${standby.name}, ${standby.hostname}), as mailrig found it.\n${STANDBY_KEY_ALIAS} ${keys.standbyHostKey}\n`;
  return [
    // Root-only: the script runs as root (doveadm sync starts ssh before it takes the mail user's id).
    file(REPLICATION_FILES.key, keys.privateKey, { mode: '0600', secret: true }),
    file(REPLICATION_FILES.knownHosts, knownHosts),
    usersFile(ctx.config, file),
    file(
      REPLICATION_FILES.script,
      renderTemplate('replication/mailrig-replicate.hbs', {
        unit: REPLICATION_UNIT,
        standby: standby.name,
        address,
        port,
        key: REPLICATION_FILES.key,
        knownHosts: REPLICATION_FILES.knownHosts,
        hostKeyAlias: STANDBY_KEY_ALIAS,
        users: REPLICATION_FILES.users,
      }),
      { mode: '0700' },
    ),
    file(REPLICATION_FILES.service, renderTemplate('replication/mailrig-replicate.service.hbs', { script: REPLICATION_FILES.script })),
    file(REPLICATION_FILES.timer, renderTemplate('replication/mailrig-replicate.timer.hbs', {})),
    file(REPLICATION_FILES.cron, renderTemplate('replication/cron.hbs', { unit: REPLICATION_UNIT, script: REPLICATION_FILES.script, logFile: REPLICATION_FILES.log })),
  ];
}

/** The standby's side: the key allowed to run the wrapper only, the wrapper, and the users it serves. */
export function renderReplicationTarget(ctx: RenderContext): FileSpec[] {
  if (ctx.config.server.role !== 'standby') return [];
  const keys = keysOf(ctx);
  const file = filesOf('replica');
  return [
    file(
      REPLICATION_FILES.authorizedKeys,
      renderTemplate('replication/authorized_keys2.hbs', {
        primary: primaryOf(ctx.config).hostname,
        wrapper: REPLICATION_FILES.wrapper,
        publicKey: keys.publicKey,
        comment: REPLICATION_KEY_COMMENT,
      }),
      { mode: '0600' },
    ),
    usersFile(ctx.config, file),
    file(REPLICATION_FILES.wrapper, renderTemplate('replication/mailrig-dsync-server.hbs', { users: REPLICATION_FILES.users }), { mode: '0755' }),
  ];
}

function usersFile(config: Config, file: ReturnType<typeof filesOf>): FileSpec {
  const users = replicatedUsers(config);
  return file(REPLICATION_FILES.users, users.length ? `${users.join('\n')}\n` : '');
}
