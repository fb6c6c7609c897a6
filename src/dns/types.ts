// The shape of one DNS record mailrig wants published. This is also the documented JSON output of
// `mailrig dns --format json`: an array of these, in a stable order (see records.ts).

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'CAA', 'TLSA', 'PTR'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export interface DnsRecord {
  /**
   * The zone the record belongs in: the mail domain the name falls in (the longest match), or, for
   * the mail host outside every mail domain, the host name's parent. `null` for PTR records, which
   * live in the reverse zone of the address block and are set at the hosting provider.
   */
  zone: string | null;
  /** Owner name: fully qualified, ASCII (punycode), lower case, without the trailing dot. */
  name: string;
  type: RecordType;
  ttl: number;
  /**
   * RDATA in presentation form, names absolute with a trailing dot (`10 mail.example.com.`).
   * TXT values are the text itself: unquoted and unsplit (the BIND formatter splits and quotes).
   */
  value: string;
  /** One line for people: why this record exists. */
  purpose: string;
  /** Whether `mailrig dns --check` fails (exit 1) when this record is not published as expected. */
  required: boolean;
}
