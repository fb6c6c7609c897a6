// DMARC policy: p=none only asks for reports; receivers still deliver forged mail. quarantine or
// reject is what protects a domain (and what internet.nl asks for).
import type { DnsResolver } from '../../dns/resolver.js';
import type { CheckEnv } from '../env.js';
import { ok, unknown, warn, type Check, type CheckResult } from '../types.js';

export function dmarcPolicy(value: string): string | undefined {
  const tags = new Map(
    value.split(';').map((t) => {
      const [k, ...v] = t.split('=');
      return [(k ?? '').trim().toLowerCase(), v.join('=').trim().toLowerCase()] as const;
    }),
  );
  return tags.get('p');
}

export async function checkDmarc(domain: string, resolver: DnsResolver): Promise<CheckResult[]> {
  const head = { id: `dns.dmarc.${domain}`, section: 'dns' as const, subject: `${domain} DMARC policy` };
  const result = await resolver.lookup(`_dmarc.${domain}`, 'TXT');
  if (result.status === 'error') return [unknown(head, result.error ?? 'no answer', 'retry; check --resolver')];
  const records = result.records.map((r) => r.value).filter((v) => /^v\s*=\s*DMARC1/i.test(v.trim()));
  // Missing or doubled: the records check reports it.
  if (records.length !== 1) return [];
  const p = dmarcPolicy(records[0] ?? '');
  if (p === 'quarantine' || p === 'reject') return [ok(head, `p=${p}`)];
  return [
    warn(
      head,
      `p=${p ?? '(missing)'}: receivers still deliver mail that fails SPF and DKIM`,
      `once the reports show your own mail passes, set domains.${domain}.dmarc.policy: quarantine (then reject) in mailrig.yaml and publish the new record`,
    ),
  ];
}

export const dmarc: Check<CheckEnv> = {
  section: 'dns',
  name: 'dmarc',
  run: async (env) => (await Promise.all(env.config.domains.map((d) => checkDmarc(d.name, env.resolver)))).flat(),
};
