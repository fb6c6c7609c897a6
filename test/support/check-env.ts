// Test doubles for mailrig check: a resolver answering from a table, and a CheckEnv whose probes
// and host view are plain values.
import type { CheckEnv, HostAccess, Probes } from '../../src/check/env.js';
import type { DnsResolver, LookupResult } from '../../src/dns/resolver.js';
import type { RecordType } from '../../src/dns/types.js';

export type Answer = string[] | 'nxdomain' | 'nodata' | { error: string };

/** Answers "name TYPE" from the table; anything else is NXDOMAIN. Counts the lookups it serves. */
export function tableResolver(table: Record<string, Answer>): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    description: 'test table',
    asked,
    async lookup(name: string, type: RecordType): Promise<LookupResult> {
      const key = `${name.toLowerCase().replace(/\.$/, '')} ${type}`;
      asked.push(key);
      const a = table[key];
      if (a === undefined || a === 'nxdomain') return { status: 'nxdomain', records: [] };
      if (a === 'nodata') return { status: 'nodata', records: [] };
      if (!Array.isArray(a)) return { status: 'error', records: [], error: a.error };
      return { status: a.length ? 'found' : 'nodata', records: a.map((value) => ({ value, ttl: 300 })) };
    },
  };
}

export const noProbes: Probes = {
  reach: async () => 'connection refused',
  served: async () => ({ chain: [], authorized: false, authorizationError: undefined, protocol: undefined, error: 'connection refused' }),
  legacy: async () => ({ refused: false, protocol: undefined, error: 'connection refused' }),
  https: async () => ({ status: undefined, body: '', authorized: false, authorizationError: undefined, certificate: undefined, error: 'connection refused' }),
  relay: async () => ({ code: undefined, text: 'connection refused', step: 'connect' }),
};

export function testEnv(base: Pick<CheckEnv, 'config' | 'records'> & Partial<CheckEnv>, host: HostAccess = { ok: false, error: 'skipped' }): CheckEnv {
  return {
    tlsKeys: { current: 'a'.repeat(64), next: 'b'.repeat(64) },
    selfSignedCertPem: '',
    resolver: tableResolver({}),
    dnssec: async () => ({ dnskey: false, ds: false, validated: false, error: undefined }),
    probes: noProbes,
    host: Promise.resolve(host),
    outboundTargets: [],
    now: new Date('2026-06-01T12:00:00Z'),
    ...base,
  };
}
