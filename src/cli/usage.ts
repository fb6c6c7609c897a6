// How full each mailbox is, read from the host in one round trip: Dovecot's `doveadm quota get -A`
// lists every user of the userdb with the usage the count backend keeps in the index; in the same
// round trip, Redis names the users rspamd refused for a sending limit in the last day.
import type { Config } from '../config/model.js';
import type { HostOptions } from '../pipeline/host.js';
import { LIMIT_KEYS } from '../render/limits.js';

export interface Usage {
  /** Bytes stored. */
  used: number;
  /** Bytes allowed as Dovecot sees it; undefined when unlimited. */
  limit: number | undefined;
  /** rspamd refused one of its messages for a sending limit in the last 24 hours. */
  limited?: boolean;
}

export const QUOTA_GET_COMMAND = 'doveadm -f tab quota get -A';

/** The line between doveadm's table and the users rspamd limited in the last day (their Redis markers). */
const LIMITED_MARK = '# limited';
/**
 * Usage and, after LIMITED_MARK, the "limited" markers (see render/limits.ts); a Redis that does not
 * answer leaves the list empty and the usage still shown.
 */
export const HOST_ACCOUNTS_COMMAND =
  `${QUOTA_GET_COMMAND}; rc=$?; echo '${LIMITED_MARK}'; ` +
  `redis-cli --raw --scan --pattern '${LIMIT_KEYS.limited}*' 2>/dev/null || true; exit $rc`;

/** HOST_ACCOUNTS_COMMAND's output → address → usage, with `limited` set for each marked user. */
export function parseHostAccounts(out: string): Map<string, Usage> {
  const at = out.indexOf(`\n${LIMITED_MARK}\n`);
  const usage = parseQuotaGet(at < 0 ? out : out.slice(0, at + 1));
  for (const u of usage.values()) u.limited = false;
  if (at < 0) return usage;
  for (const line of out.slice(at + LIMITED_MARK.length + 2).split('\n')) {
    if (!line.startsWith(LIMIT_KEYS.limited)) continue;
    const address = line.slice(LIMIT_KEYS.limited.length).trim().toLowerCase();
    const u = usage.get(address);
    if (u) u.limited = true;
    else usage.set(address, { used: 0, limit: undefined, limited: true });
  }
  return usage;
}

/** `doveadm -f tab quota get -A` → address → usage (STORAGE rows; Dovecot counts in KiB). */
export function parseQuotaGet(tsv: string): Map<string, Usage> {
  const usage = new Map<string, Usage>();
  for (const line of tsv.split('\n').slice(1)) {
    const [user, , type, value, limit] = line.split('\t');
    if (user === undefined || type !== 'STORAGE' || value === undefined || !/^\d+$/.test(value)) continue;
    usage.set(user.toLowerCase(), { used: Number(value) * 1024, limit: limit && /^\d+$/.test(limit) ? Number(limit) * 1024 : undefined });
  }
  return usage;
}

export type UsageReader = (config: Config, opts: Omit<HostOptions, 'config'>) => Promise<Map<string, Usage>>;

/** Asks the host over the configured transport; throws with Dovecot's message when doveadm fails. */
export const readUsageOverSsh: UsageReader = async (config, opts) => {
  const { openTarget } = await import('./apply.js');
  const host = await openTarget(config.server.ssh, opts);
  try {
    const r = await host.exec(HOST_ACCOUNTS_COMMAND, { sudo: true, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${QUOTA_GET_COMMAND} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    return parseHostAccounts(r.stdout);
  } finally {
    await host.close();
  }
};
