// Figures and how they are shown: median/min/max of repeated runs, a plain table, and the JSON
// results file each benchmark writes beside itself (bench/results/<name>.json, not committed).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../test/support/fixtures.js';

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(runs: number[]): Summary {
  if (runs.length === 0) throw new Error('summarize: no runs');
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0, runs };
}

/** Wall time of fn in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
export const fmtMB = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

/** median (min–max) of a summary, formatted by fmt. */
export const spread = (s: Summary, fmt: (n: number) => string = fmtMs): string => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

/** A left-aligned text table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const [head, ...body] = rows;
  if (!head) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The machine the figures come from: they are only comparable on the same kind of machine. */
export function machine() {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    note: 'shared machine: other jobs may run at the same time, so timings are noisy',
  };
}

export function header(title: string): void {
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(`\n== ${title}\n(${cpus().length} CPUs, load average ${load}: a shared machine's timings are noisy)\n\n`);
}

export const RESULTS_DIR = join(PROJECT_ROOT, 'bench/results');

/** Writes bench/results/<name>.json and says where. */
export function writeResults(name: string, data: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ benchmark: name, date: new Date().toISOString(), machine: machine(), ...(data as object) }, null, 2)}\n`);
  process.stdout.write(`\nresults: ${path}\n`);
}

export const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
