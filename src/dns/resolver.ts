// The lookups `mailrig dns --check` and `push` make, behind one small interface so tests (and other
// callers) can inject their own. The real one asks DNS servers directly over the wire rather than
// through node:dns: Node 20's resolver cannot ask for TLSA and does not show TTLs or TXT strings.
import { getServers } from 'node:dns';
import { parseServer, presentAnswer, query, rcodeName, showServer, type FoundRecord, type Server } from './wire.js';
import type { RecordType } from './types.js';

export interface LookupResult {
  /** found: records of the type exist; nodata: the name exists without them; error: no usable answer. */
  status: 'found' | 'nxdomain' | 'nodata' | 'error';
  records: FoundRecord[];
  /** What went wrong, for status error (an rcode name or a network error). */
  error?: string;
}

export interface DnsResolver {
  lookup(name: string, type: RecordType): Promise<LookupResult>;
  /** Where the answers come from, for messages. */
  readonly description: string;
}

export interface ServerResolverOptions {
  /** false when asking an authoritative server (push asks the primary what it holds). */
  recursion?: boolean;
  tcp?: boolean;
  timeoutMs?: number;
}

/** Asks the given servers in order (the next one only when one does not answer). */
export function serverResolver(servers: Server[], opts: ServerResolverOptions = {}): DnsResolver {
  return {
    description: servers.map(showServer).join(', '),
    async lookup(name, type) {
      let lastError = 'no DNS server to ask';
      for (const server of servers) {
        try {
          const response = await query(server, name, type, opts);
          const rcode = rcodeName((response.flags ?? 0) & 0xf);
          if (rcode === 'NXDOMAIN') return { status: 'nxdomain', records: [] };
          if (rcode !== 'NOERROR') return { status: 'error', records: [], error: rcode };
          const records = (response.answers ?? [])
            .filter((a) => a.type === type)
            .flatMap((a) => {
              const found = presentAnswer(a);
              return found === undefined ? [] : [found];
            });
          return { status: records.length ? 'found' : 'nodata', records };
        } catch (e) {
          lastError = (e as Error).message;
        }
      }
      return { status: 'error', records: [], error: lastError };
    },
  };
}

/** The system's resolvers (as node:dns reads them from /etc/resolv.conf), or one given as IP[:port]. */
export function defaultResolver(resolver?: string): DnsResolver {
  const servers = resolver === undefined ? getServers().map((s) => parseServer(s)) : [parseServer(resolver)];
  return serverResolver(servers.filter((s): s is Server => s !== undefined));
}
