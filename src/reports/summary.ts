// Reports → what the operator wants to know, per domain: who sent as it from which IPs and how
// they fared (DMARC), and which senders could not reach it over TLS (TLS-RPT). The JSON shape is
// stable: documented in the README, fields only ever added; every list is sorted, so the output
// does not depend on the order the messages were read in.
import type { AggregateReport } from './dmarc.js';
import type { TlsReport } from './tlsrpt.js';

export interface DmarcSource {
  ip: string;
  count: number;
  headerFrom: string | null;
  spf: string;
  dkim: string;
  dmarc: 'pass' | 'fail';
  disposition: string;
  /** Raw authentication results, domain=result. */
  spfAuth: string[];
  dkimAuth: string[];
  /** Organisations that reported these messages. */
  reporters: string[];
}

export interface DmarcDomainSummary {
  domain: string;
  reports: number;
  messages: number;
  passed: number;
  failed: number;
  sources: DmarcSource[];
}

export interface TlsFailureSummary {
  reporter: string;
  type: string;
  sendingMta: string | null;
  receivingMx: string | null;
  count: number;
}

export interface TlsDomainSummary {
  domain: string;
  reports: number;
  successful: number;
  failed: number;
  failures: TlsFailureSummary[];
}

export interface ReportSummary {
  since: string;
  mailboxes: string[];
  dmarc: DmarcDomainSummary[];
  tls: TlsDomainSummary[];
  warnings: string[];
}

/** One report delivered twice (two rua addresses, a resend) counts once. */
function unique<T extends { orgName: string; reportId: string }>(reports: T[], key: (r: T) => string): T[] {
  const seen = new Set<string>();
  return reports.filter((r) => {
    if (r.reportId === '') return true;
    const k = `${r.orgName}\u0000${r.reportId}\u0000${key(r)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const alphabetical = (a: string, b: string) => a.localeCompare(b, 'en');
const byName = (a: { domain: string }, b: { domain: string }) => alphabetical(a.domain, b.domain);

export function summarize(
  input: { dmarc: AggregateReport[]; tls: TlsReport[]; warnings: string[] },
  opts: { since: Date; mailboxes: string[]; domain?: string | undefined },
): ReportSummary {
  const wanted = (d: string) => opts.domain === undefined || d === opts.domain;
  const dmarc = new Map<string, DmarcDomainSummary & { bySource: Map<string, DmarcSource> }>();
  for (const r of unique(input.dmarc, (r) => r.domain)) {
    if (!wanted(r.domain)) continue;
    let d = dmarc.get(r.domain);
    if (!d) dmarc.set(r.domain, (d = { domain: r.domain, reports: 0, messages: 0, passed: 0, failed: 0, sources: [], bySource: new Map() }));
    d.reports++;
    for (const rec of r.records) {
      d.messages += rec.count;
      if (rec.dmarc === 'pass') d.passed += rec.count;
      else d.failed += rec.count;
      const key = [rec.sourceIp, rec.headerFrom, rec.spf, rec.dkim, rec.disposition].join('\u0000');
      let s = d.bySource.get(key);
      if (!s) {
        s = { ip: rec.sourceIp, count: 0, headerFrom: rec.headerFrom ?? null, spf: rec.spf, dkim: rec.dkim, dmarc: rec.dmarc, disposition: rec.disposition, spfAuth: [], dkimAuth: [], reporters: [] };
        d.bySource.set(key, s);
      }
      s.count += rec.count;
      for (const a of rec.spfAuth) if (!s.spfAuth.includes(a)) s.spfAuth.push(a);
      for (const a of rec.dkimAuth) if (!s.dkimAuth.includes(a)) s.dkimAuth.push(a);
      if (!s.reporters.includes(r.orgName)) s.reporters.push(r.orgName);
    }
  }
  const tls = new Map<string, TlsDomainSummary>();
  for (const r of unique(input.tls, () => '')) {
    for (const p of r.policies) {
      if (!wanted(p.domain)) continue;
      let d = tls.get(p.domain);
      if (!d) tls.set(p.domain, (d = { domain: p.domain, reports: 0, successful: 0, failed: 0, failures: [] }));
      d.reports++;
      d.successful += p.successful;
      d.failed += p.failed;
      for (const f of p.failures) {
        const same = d.failures.find((x) => x.reporter === r.orgName && x.type === f.type && x.sendingMta === (f.sendingMta ?? null) && x.receivingMx === (f.receivingMx ?? null));
        if (same) same.count += f.count;
        else d.failures.push({ reporter: r.orgName, type: f.type, sendingMta: f.sendingMta ?? null, receivingMx: f.receivingMx ?? null, count: f.count });
      }
    }
  }
  return {
    since: opts.since.toISOString(),
    mailboxes: opts.mailboxes,
    dmarc: [...dmarc.values()].sort(byName).map(({ bySource, ...d }) => ({
      ...d,
      sources: [...bySource.values()]
        .sort((a, b) => b.count - a.count || a.ip.localeCompare(b.ip))
        .map((s) => ({ ...s, spfAuth: s.spfAuth.sort(), dkimAuth: s.dkimAuth.sort(), reporters: s.reporters.sort(alphabetical) })),
    })),
    tls: [...tls.values()].sort(byName).map((d) => ({ ...d, failures: d.failures.sort((a, b) => b.count - a.count || alphabetical(a.reporter, b.reporter) || alphabetical(a.type, b.type)) })),
    warnings: input.warnings,
  };
}
