// Every record `mailrig dns` prints, compared with live DNS through the same compare as
// `mailrig dns --check`. One ok line per zone; one line per record that is not as expected.
import { checkRecords } from '../../dns/check.js';
import type { Finding } from '../../dns/compare.js';
import type { DnsRecord } from '../../dns/types.js';
import type { CheckEnv } from '../env.js';
import { fail, ok, warn, type Check, type CheckResult } from '../types.js';

/** What a record is, in the words operators know it by. */
export function recordLabel(r: Pick<DnsRecord, 'type' | 'value'>): string {
  if (r.type !== 'TXT') return r.type;
  const v = r.value.trim();
  if (/^v=spf1/i.test(v)) return 'SPF';
  if (/^v=DKIM1/i.test(v)) return 'DKIM';
  if (/^v=DMARC1/i.test(v)) return 'DMARC';
  if (/^v=STSv1/i.test(v)) return 'MTA-STS';
  if (/^v=TLSRPTv1/i.test(v)) return 'TLS-RPT';
  return 'TXT';
}

function clip(text: string, width = 70): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Pure: the findings of one run as results (PTR records are the PTR check's). */
export function judgeFindings(findings: Finding[]): CheckResult[] {
  const results: CheckResult[] = [];
  const zones = [...new Set(findings.map((f) => f.record.zone ?? ''))];
  const seen = new Map<string, number>();
  for (const zone of zones) {
    const inZone = findings.filter((f) => (f.record.zone ?? '') === zone);
    const bad = inZone.filter((f) => f.status !== 'ok');
    const required = bad.filter((f) => f.record.required).length;
    const head = { id: `dns.zone.${zone}`, section: 'dns' as const, subject: `${zone} records` };
    if (bad.length === 0) results.push(ok(head, `all ${inZone.length} published as expected`));
    for (const f of bad) {
      const r = f.record;
      const key = `${r.type}.${r.name}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const rh = { id: `dns.record.${key}${n > 1 ? `#${n}` : ''}`, section: 'dns' as const, subject: `${recordLabel(r)} ${r.name}` };
      const found = f.found.length ? ` (found: ${clip(f.found.join(', '), 60)})` : '';
      const fix = `publish ${r.name}. ${r.type} ${clip(r.value, 60)} in ${zone} (mailrig dns --domain ${zone} prints it in full; or mailrig dns push)`;
      results.push(r.required ? fail(rh, `${f.detail}${found}`, fix) : warn(rh, `${f.detail}${found} (optional: ${r.purpose})`, fix));
    }
    // With a required record missing, its own lines say it; the zone line would only repeat them.
    if (bad.length > 0 && required === 0) results.push(ok(head, `${inZone.length - bad.length} of ${inZone.length} published; the others are optional`));
  }
  return results;
}

export const records: Check<CheckEnv> = {
  section: 'dns',
  name: 'records',
  async run(env) {
    const findings = await checkRecords(env.records.filter((r) => r.type !== 'PTR'), env.resolver);
    return judgeFindings(findings);
  },
};
