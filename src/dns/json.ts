// JSON output: the records exactly as DnsRecord documents them, keys in a fixed order.
import type { DnsRecord } from './types.js';

export function formatJson(records: DnsRecord[]): string {
  const rows = records.map((r) => ({
    zone: r.zone,
    name: r.name,
    type: r.type,
    ttl: r.ttl,
    value: r.value,
    purpose: r.purpose,
    required: r.required,
  }));
  return `${JSON.stringify(rows, null, 2)}\n`;
}
