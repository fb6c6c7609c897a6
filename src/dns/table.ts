// The human table: one block per zone, names relative to it, long values wrapped, each record's
// purpose under it; reverse DNS last, with what to do about it said plainly.
import { toUnicodeDomain } from '../config/syntax.js';
import { recordsByZone } from './bind.js';
import { addressOfReverse, relativeName } from './names.js';
import type { DnsRecord } from './types.js';

/** Cuts `text` into lines of at most `width` characters, at spaces when there are any. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 2 ? space : width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

export function formatTable(records: DnsRecord[], width = 100): string {
  const out: string[] = [];
  for (const [zone, rows] of recordsByZone(records)) {
    const unicode = toUnicodeDomain(zone);
    out.push(`Zone ${zone}${unicode === zone ? '' : ` (${unicode})`}   (names relative to the zone; @ is ${zone} itself)`);
    const names = rows.map((r) => relativeName(r.name, zone));
    const nameWidth = Math.min(Math.max(4, ...names.map((n) => n.length)), 32);
    const valueIndent = 2 + nameWidth + 2 + 5 + 2;
    const valueWidth = Math.max(20, width - valueIndent);
    rows.forEach((r, i) => {
      const [first = '', ...more] = wrap(r.value, valueWidth);
      out.push(`  ${(names[i] ?? '').padEnd(nameWidth)}  ${r.type.padEnd(5)}  ${first}`);
      for (const line of more) out.push(`${' '.repeat(valueIndent)}${line}`);
      for (const line of wrap(r.purpose, width - 6)) out.push(`      ${line}`);
    });
    out.push('');
  }
  const ptr = records.filter((r) => r.type === 'PTR');
  if (ptr.length) {
    out.push('Reverse DNS (PTR): not part of your zones. Set it in your hosting provider\'s control panel');
    out.push('(often called "reverse DNS" or "rDNS"), or ask their support, for each address:');
    for (const r of ptr) out.push(`  ${addressOfReverse(r.name).padEnd(39)}  →  ${r.value.replace(/\.$/, '')}`);
    out.push('');
  }
  return out.join('\n');
}
