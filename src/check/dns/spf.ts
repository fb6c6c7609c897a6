// SPF evaluation may cost at most 10 DNS lookups (RFC 7208 4.6.4); more is a permanent error, and
// receivers then treat the mail as if there were no SPF at all. Counted by following include: and
// redirect= the way a receiver would.
import type { DnsResolver } from '../../dns/resolver.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

export const SPF_LOOKUP_LIMIT = 10;

export interface SpfCount {
  lookups: number;
  /** Problems that stop the count being exact (a missing include, a loop). */
  problems: string[];
}

function spfOf(values: string[]): string[] {
  return values.filter((v) => /^v=spf1(\s|$)/i.test(v.trim()));
}

/** The terms that cost a lookup, following include: and redirect= (depth-limited, loops caught). */
export async function countSpfLookups(domain: string, resolver: DnsResolver, seen = new Set<string>()): Promise<SpfCount> {
  const key = domain.toLowerCase();
  if (seen.has(key)) return { lookups: 0, problems: [`loop through ${domain}`] };
  seen.add(key);
  const result = await resolver.lookup(domain, 'TXT');
  if (result.status === 'error') return { lookups: 0, problems: [`${domain}: ${result.error ?? 'no answer'}`] };
  const records = spfOf(result.records.map((r) => r.value));
  if (records.length !== 1) return { lookups: 0, problems: [`${domain}: ${records.length === 0 ? 'no SPF record' : 'more than one SPF record'}`] };
  let lookups = 0;
  const problems: string[] = [];
  for (const term of (records[0] ?? '').trim().split(/\s+/).slice(1)) {
    const t = term.replace(/^[-+~?]/, '').toLowerCase();
    const m = /^(include:|redirect=)(.+)$/.exec(t);
    if (m) {
      lookups++;
      const inner = await countSpfLookups(m[2] ?? '', resolver, seen);
      lookups += inner.lookups;
      problems.push(...inner.problems);
    } else if (/^(a|mx|ptr)([:/]|$)/.test(t) || t.startsWith('exists:')) {
      lookups++;
    }
  }
  return { lookups, problems };
}

export function judgeSpf(domain: string, count: SpfCount): CheckResult {
  const head = { id: `dns.spf.${domain}`, section: 'dns' as const, subject: `${domain} SPF lookups` };
  const fix = 'drop includes you no longer use, or replace them with ip4:/ip6: ranges';
  if (count.lookups > SPF_LOOKUP_LIMIT) return fail(head, `${count.lookups} DNS lookups, more than the ${SPF_LOOKUP_LIMIT} allowed: receivers treat SPF as broken`, fix);
  if (count.problems.length) return unknown(head, `${count.lookups} lookups counted; ${count.problems.join('; ')}`, 'fix the SPF records named');
  return ok(head, `${count.lookups} of ${SPF_LOOKUP_LIMIT} DNS lookups`);
}

/** The names mailrig publishes SPF for: the mail domains and the host. */
function spfNames(env: CheckEnv): string[] {
  return [...new Set(env.records.filter((r) => r.type === 'TXT' && /^v=spf1/i.test(r.value)).map((r) => r.name))];
}

export const spf: Check<CheckEnv> = {
  section: 'dns',
  name: 'spf',
  run: (env) =>
    Promise.all(
      spfNames(env).map(async (name) => {
        const count = await countSpfLookups(name, env.resolver);
        // A missing or doubled record is the records check's finding; do not report it twice.
        if (count.problems.some((p) => p.startsWith(`${name}: `) && /SPF record/.test(p))) return [];
        return [judgeSpf(name, count)];
      }),
    ).then((r) => r.flat()),
};
