// `mailrig dns --check`: look up every expected record and say, for each, whether DNS has it.
import { unicodeText } from '../config/syntax.js';
import { compareGroup, groupRecords, type Finding, type Status } from './compare.js';
import type { DnsResolver } from './resolver.js';
import type { DnsRecord } from './types.js';

/** One lookup per owned (name, type) set, a few in parallel. */
export async function checkRecords(records: DnsRecord[], resolver: DnsResolver, parallel = 8): Promise<Finding[]> {
  const groups = groupRecords(records);
  const results: Finding[][] = new Array<Finding[]>(groups.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < groups.length; i = next++) {
      const group = groups[i] ?? [];
      const first = group[0];
      if (first === undefined) continue;
      results[i] = compareGroup(group, await resolver.lookup(first.name, first.type));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, groups.length) }, worker));
  // Report in the order the records were built, not the order of the groups.
  const byRecord = new Map(results.flat().map((f) => [f.record, f]));
  return records.flatMap((r) => {
    const f = byRecord.get(r);
    return f === undefined ? [] : [f];
  });
}

/** 1 when a required record is not ok, else 0. */
export function checkExitCode(findings: Finding[]): number {
  return findings.some((f) => f.record.required && f.status !== 'ok') ? 1 : 0;
}

export function findingsJson(findings: Finding[]): string {
  const rows = findings.map((f) => ({
    zone: f.record.zone,
    name: f.record.name,
    type: f.record.type,
    required: f.record.required,
    status: f.status,
    expected: f.record.value,
    found: f.found,
    detail: f.detail,
  }));
  return `${JSON.stringify(rows, null, 2)}\n`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Human report: one line per record, expected and found side by side under anything not ok. */
export function formatFindings(findings: Finding[], resolverName: string, width = 100): string {
  const shown = (f: Finding) => unicodeText(f.record.name);
  const nameWidth = Math.min(40, Math.max(...findings.map((f) => shown(f).length)));
  const lines = [`Checked ${findings.length} records against ${resolverName}:`];
  for (const f of findings) {
    const tag = f.status === 'ok' ? 'ok' : f.record.required ? f.status.toUpperCase() : `${f.status} (optional)`;
    const head = `  ${tag.padEnd(22)} ${f.record.type.padEnd(5)} ${shown(f).padEnd(nameWidth)}`;
    if (f.status === 'ok') {
      lines.push(clip(`${head}  ${f.record.value}`, width));
      continue;
    }
    lines.push(`${head}  ${f.detail}`);
    if (shown(f) !== f.record.name) lines.push(`      name in DNS: ${f.record.name}`);
    lines.push(clip(`      expected: ${f.record.value}`, width));
    for (const v of f.found) lines.push(clip(`      found:    ${v}`, width));
    if (f.record.type === 'PTR') lines.push('      (set reverse DNS at your hosting provider)');
  }
  const count = (s: Status) => findings.filter((f) => f.status === s).length;
  const summary = (['ok', 'missing', 'different', 'conflicting', 'error'] as const)
    .filter((s) => count(s) > 0)
    .map((s) => `${count(s)} ${s}`)
    .join(', ');
  const failing = findings.filter((f) => f.record.required && f.status !== 'ok').length;
  lines.push('', `${summary}. ${failing === 0 ? 'Every required record is published.' : `${failing} required record${failing === 1 ? ' is' : 's are'} not as expected.`}`);
  return `${lines.join('\n')}\n`;
}
