// DMARC aggregate reports (RFC 7489 appendix C): the XML a receiver sends to a domain's rua
// address, saying which IPs sent mail as the domain and how SPF, DKIM and DMARC judged it.
import { child, parseXml, textAt, XmlError, type XmlNode } from './xml.js';

export interface AggregateRecord {
  sourceIp: string;
  count: number;
  headerFrom: string | undefined;
  /** What the receiver did: none, quarantine or reject. */
  disposition: string;
  /** DMARC-aligned results as the receiver evaluated them. */
  dkim: string;
  spf: string;
  /** pass when the aligned DKIM or SPF result passed. */
  dmarc: 'pass' | 'fail';
  /** The raw authentication results: domain=result. */
  dkimAuth: string[];
  spfAuth: string[];
}

export interface AggregateReport {
  orgName: string;
  reportId: string;
  /** Seconds since the epoch. */
  begin: number;
  end: number;
  domain: string;
  policy: string;
  records: AggregateRecord[];
}

export function parseAggregate(text: string): AggregateReport {
  const root = parseXml(text);
  if (root.name !== 'feedback') throw new XmlError(`root element is <${root.name}>, not <feedback>`);
  const meta = child(root, 'report_metadata');
  const published = child(root, 'policy_published');
  const domain = textAt(published, 'domain')?.toLowerCase().replace(/\.$/, '');
  if (!domain) throw new XmlError('no policy_published/domain');
  const records = root.children.filter((c) => c.name === 'record').map(parseRecord);
  return {
    orgName: textAt(meta, 'org_name') ?? textAt(meta, 'email') ?? 'unknown',
    reportId: textAt(meta, 'report_id') ?? '',
    begin: Number(textAt(meta, 'date_range', 'begin') ?? 0) || 0,
    end: Number(textAt(meta, 'date_range', 'end') ?? 0) || 0,
    domain,
    policy: textAt(published, 'p') ?? 'none',
    records,
  };
}

function parseRecord(record: XmlNode): AggregateRecord {
  const row = child(record, 'row');
  const sourceIp = textAt(row, 'source_ip');
  const count = Number(textAt(row, 'count'));
  if (!sourceIp) throw new XmlError('a record without row/source_ip');
  if (!Number.isSafeInteger(count) || count < 0) throw new XmlError(`record of ${sourceIp}: count is not a number`);
  const evaluated = child(row, 'policy_evaluated');
  const dkim = textAt(evaluated, 'dkim')?.toLowerCase() ?? 'none';
  const spf = textAt(evaluated, 'spf')?.toLowerCase() ?? 'none';
  const auth = child(record, 'auth_results');
  const results = (kind: string) =>
    (auth?.children ?? []).filter((c) => c.name === kind).map((c) => `${textAt(c, 'domain') ?? '?'}=${textAt(c, 'result')?.toLowerCase() ?? '?'}`);
  return {
    sourceIp,
    count,
    headerFrom: textAt(record, 'identifiers', 'header_from')?.toLowerCase(),
    disposition: textAt(evaluated, 'disposition')?.toLowerCase() ?? 'none',
    dkim,
    spf,
    dmarc: dkim === 'pass' || spf === 'pass' ? 'pass' : 'fail',
    dkimAuth: results('dkim'),
    spfAuth: results('spf'),
  };
}
