// SMTP TLS reports (RFC 8460): JSON a sending MTA posts to a domain's TLS-RPT rua address, with
// how many sessions to the domain's MX succeeded and which failed, why.

export interface TlsFailure {
  /** The failure type, e.g. certificate-expired, starttls-not-supported, sts-policy-fetch-error. */
  type: string;
  sendingMta: string | undefined;
  receivingMx: string | undefined;
  count: number;
}

export interface TlsPolicyResult {
  domain: string;
  policyType: string;
  successful: number;
  failed: number;
  failures: TlsFailure[];
}

export interface TlsReport {
  orgName: string;
  reportId: string;
  /** Seconds since the epoch. */
  begin: number;
  end: number;
  policies: TlsPolicyResult[];
}

export class TlsReportError extends Error {
  override name = 'TlsReportError';
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
const time = (v: unknown): number => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
};

export function parseTlsReport(text: string): TlsReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new TlsReportError(`not JSON: ${(e as Error).message}`);
  }
  const report = obj(data);
  const range = obj(report?.['date-range']);
  const policies = report?.['policies'];
  if (!report || !Array.isArray(policies)) throw new TlsReportError('not a TLS report (no "policies" list)');
  return {
    orgName: str(report['organization-name']) ?? str(report['contact-info']) ?? 'unknown',
    reportId: str(report['report-id']) ?? '',
    begin: time(range?.['start-datetime']),
    end: time(range?.['end-datetime']),
    policies: policies.map((p, i) => {
      const entry = obj(p);
      const policy = obj(entry?.['policy']);
      const summary = obj(entry?.['summary']);
      const domain = str(policy?.['policy-domain'])?.toLowerCase().replace(/\.$/, '');
      if (!domain) throw new TlsReportError(`policies[${i}] has no policy-domain`);
      const details = Array.isArray(entry?.['failure-details']) ? (entry['failure-details'] as unknown[]) : [];
      return {
        domain,
        policyType: str(policy?.['policy-type']) ?? 'unknown',
        successful: num(summary?.['total-successful-session-count']),
        failed: num(summary?.['total-failure-session-count']),
        failures: details.map((d) => {
          const f = obj(d);
          return {
            type: str(f?.['result-type']) ?? 'unknown',
            sendingMta: str(f?.['sending-mta-ip']),
            receivingMx: str(f?.['receiving-mx-hostname']) ?? str(f?.['receiving-ip']),
            count: num(f?.['failed-session-count']),
          };
        }),
      };
    }),
  };
}
