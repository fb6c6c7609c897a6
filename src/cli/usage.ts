// How full each mailbox is, read from the host in one round trip: Dovecot's `doveadm quota get -A`
// lists every user of the userdb with the usage the count backend keeps in the index.
import type { Config } from '../config/model.js';
import type { HostOptions } from '../pipeline/host.js';

export interface Usage {
  /** Bytes stored. */
  used: number;
  /** Bytes allowed as Dovecot sees it; undefined when unlimited. */
  limit: number | undefined;
}

export const QUOTA_GET_COMMAND = 'doveadm -f tab quota get -A';

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
    const r = await host.exec(QUOTA_GET_COMMAND, { sudo: true, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${QUOTA_GET_COMMAND} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    return parseQuotaGet(r.stdout);
  } finally {
    await host.close();
  }
};
