// Output of `mailrig check`: a table grouped by section (one line per result, a fix line under each
// warn and fail), and the JSON document scripts read.
//
// JSON (stable; fields are only ever added):
//   { "version": 1, "checkedAt": ISO time, "target": "<hostname>",
//     "summary": { "ok": n, "warn": n, "fail": n },
//     "results": [ { "id", "section", "status": "ok"|"warn"|"fail", "subject", "message",
//                    "fix"? (every warn and fail), "unknown"? (true: could not check) } ] }
// `id` is stable across runs; `section` is one of host, dns, tls, deliverability.
import { unicodeText } from '../config/syntax.js';
import { counts } from './runner.js';
import { SECTIONS, type CheckResult, type Section } from './types.js';

export const TITLES: Record<Section, string> = { host: 'Host', dns: 'DNS', tls: 'TLS', deliverability: 'Deliverability' };

export interface Report {
  version: 1;
  checkedAt: string;
  target: string;
  summary: { ok: number; warn: number; fail: number };
  results: CheckResult[];
}

export function makeReport(target: string, results: CheckResult[], now: Date): Report {
  return { version: 1, checkedAt: now.toISOString(), target, summary: counts(results), results };
}

export function formatJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function clip(text: string, width: number): string {
  return width > 20 && text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export interface TableOptions {
  width: number;
  color: boolean;
}

const TAGS = { ok: 'ok', warn: 'warn', fail: 'FAIL' } as const;
const COLORS = { ok: '\u001b[32m', warn: '\u001b[33m', fail: '\u001b[31m' } as const;

/** Names in a result as the operator wrote them (IDNs in Unicode); the fix keeps the punycode beside. */
export function forPeople(r: CheckResult): CheckResult {
  return {
    ...r,
    subject: unicodeText(r.subject),
    message: unicodeText(r.message),
    ...(r.fix === undefined ? {} : { fix: unicodeText(r.fix, { beside: true }) }),
  };
}

export function formatTable(machineReport: Report, opts: TableOptions): string {
  const report = { ...machineReport, target: unicodeText(machineReport.target), results: machineReport.results.map(forPeople) };
  const subjectWidth = Math.min(34, Math.max(...report.results.map((r) => r.subject.length), 8));
  const tag = (r: CheckResult) => {
    const t = TAGS[r.status].padEnd(4);
    return opts.color ? `${COLORS[r.status]}${t}\u001b[0m` : t;
  };
  const lines = [`mailrig check: ${report.target} at ${report.checkedAt.replace('T', ' ').slice(0, 19)} UTC`];
  for (const section of SECTIONS) {
    const rows = report.results.filter((r) => r.section === section);
    if (!rows.length) continue;
    lines.push('', TITLES[section]);
    for (const r of rows) {
      // The message is never clipped on failures: it names what to look at.
      const text = `${r.subject.padEnd(subjectWidth)}  ${r.message}`;
      lines.push(`  ${tag(r)}  ${r.status === 'ok' ? clip(text, opts.width - 8) : text}`);
      if (r.fix) lines.push(`        ${''.padEnd(subjectWidth)}  fix: ${r.fix}`);
    }
  }
  const s = report.summary;
  lines.push('', `${s.ok} ok, ${s.warn} warn, ${s.fail} fail${s.fail ? ' — fix the FAIL lines first' : ''}`);
  return `${lines.join('\n')}\n`;
}
