// Plain column tables for the list commands: a header row, columns padded to their widest cell,
// the last column left ragged. No box drawing, so output pastes cleanly into mail and tickets.

export function formatColumns(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

const UNITS: Array<[string, number]> = [
  ['T', 1024 ** 4],
  ['G', 1024 ** 3],
  ['M', 1024 ** 2],
  ['K', 1024],
];

/** Bytes as people write sizes in mailrig.yaml: the largest unit that states it exactly (10G, 1536M). */
export function formatSize(bytes: number): string {
  if (bytes === 0) return 'unlimited';
  for (const [unit, size] of UNITS) if (bytes % size === 0) return `${bytes / size}${unit}`;
  return `${bytes}B`;
}
