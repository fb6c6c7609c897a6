// A small line diff for test failures: the first differing file of a golden tree, shown as a unified
// diff with a few lines of context. LCS over lines; golden files are small enough for that.

export function lineDiff(expected: string, actual: string, context = 3): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const ops = diffOps(a, b);
  const out: string[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]?.kind === ' ') {
      i++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last nearby change.
    const start = Math.max(0, i - context);
    let end = i;
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && ops[next]?.kind !== ' ') next++;
      let gap = next;
      while (gap < ops.length && ops[gap]?.kind === ' ') gap++;
      end = next;
      if (gap >= ops.length || gap - next > 2 * context) break;
      end = gap;
    }
    const stop = Math.min(ops.length, end + context);
    const first = ops[start];
    out.push(`@@ -${(first?.a ?? 0) + 1} +${(first?.b ?? 0) + 1} @@`);
    for (let k = start; k < stop; k++) {
      const op = ops[k];
      if (op) out.push(`${op.kind}${op.text}`);
    }
    i = stop;
  }
  return out.join('\n');
}

interface Op {
  kind: ' ' | '-' | '+';
  text: string;
  /** Line index in the expected (a) and actual (b) text where this op sits. */
  a: number;
  b: number;
}

function diffOps(a: string[], b: string[]): Op[] {
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] = a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i] ?? '', a: i++, b: j++ });
    } else if (i < a.length && (j >= b.length || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      // Removals before additions, as readers of unified diffs expect.
      ops.push({ kind: '-', text: a[i] ?? '', a: i++, b: j });
    } else {
      ops.push({ kind: '+', text: b[j] ?? '', a: i, b: j++ });
    }
  }
  return ops;
}
