// Runs the end-to-end files a few at a time, longest first, so the run ends when its longest file
// could, not when a long file that sorts last alphabetically starts at the end. Each file runs in its
// own `node --test` process; its report is printed whole when it ends, with its duration.
//
//   node dist/test/support/run-e2e.js [FILE.test.js ...]     (default: every file in dist/test/e2e)
//
// MAILRIG_E2E_CONCURRENCY sets how many files run at once (default 2: a test host's daemons keep a
// core busy while they start). The order comes from the durations of the previous run, kept in the
// test cache; a file not timed yet runs first. Exit status 1 when any file failed.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';

const CACHE = process.env.MAILRIG_TEST_CACHE ?? '/var/cache/mailrig-test';
const DURATIONS = join(CACHE, 'e2e-durations.json');

interface Outcome {
  file: string;
  ok: boolean;
  seconds: number;
}

function concurrency(): number {
  const raw = process.env.MAILRIG_E2E_CONCURRENCY ?? '2';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`MAILRIG_E2E_CONCURRENCY: expected a whole number of files at once, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

function readDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function runFile(file: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('close', (code, signal) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const ok = code === 0;
      process.stdout.write(`\n=== ${basename(file)}: ${ok ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds} s\n`);
      process.stdout.write(Buffer.concat(out));
      done({ file, ok, seconds });
    });
  });
}

async function main(): Promise<void> {
  const n = concurrency();
  const dir = join(PROJECT_ROOT, 'dist/test/e2e');
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args.map((f) => resolve(f)) : readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => join(dir, f));
  const known = readDurations();
  const expected = (f: string) => known[basename(f)] ?? Number.POSITIVE_INFINITY;
  const queue = [...files].sort((a, b) => expected(b) - expected(a) || a.localeCompare(b));
  process.stdout.write(`end-to-end: ${queue.length} files, ${n} at a time, longest first: ${queue.map((f) => basename(f)).join(' ')}\n`);

  const outcomes: Outcome[] = [];
  const lane = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) outcomes.push(await runFile(file));
  };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, lane));

  mkdirSync(dirname(DURATIONS), { recursive: true });
  writeFileSync(DURATIONS, `${JSON.stringify({ ...known, ...Object.fromEntries(outcomes.map((o) => [basename(o.file), o.seconds])) }, null, 2)}\n`);
  process.stdout.write('\n=== end-to-end files\n');
  for (const o of [...outcomes].sort((a, b) => b.seconds - a.seconds)) {
    process.stdout.write(`${String(o.seconds).padStart(6)} s  ${o.ok ? 'ok    ' : 'FAILED'}  ${basename(o.file)}\n`);
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    process.stdout.write(`${failed.length} of ${outcomes.length} end-to-end files failed: ${failed.map((o) => basename(o.file)).join(' ')}\n`);
    process.exitCode = 1;
  }
}

await main();
