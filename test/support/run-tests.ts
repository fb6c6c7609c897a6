// Runs the test suite as jobs a few at a time, longest first, so the run ends when its longest job
// could, not when a long one that sorts last starts at the end. A job is one `node --test` process:
// the unit and integration tests together (their files one after another, as each is short), or one
// end-to-end file. Each job's report is printed whole when it ends, with its duration.
//
//   node dist/test/support/run-tests.js                  every job: unit + integration, every e2e file
//   node dist/test/support/run-tests.js --e2e [FILE ...]  the e2e files only (default: all of them)
//
// MAILRIG_TEST_CONCURRENCY sets how many jobs run at once (default 3, measured on 2 cores: one e2e
// job alone left them idle about half the time, waiting on hosts, mail and timers, and two at once
// each took about 1.5 times as long as alone, so the cores were still not full). The order comes
// from the durations of the previous run, kept in the test cache; a job not timed yet runs first.
// Exit status 1 when any job failed.
//
// Most e2e files start their hosts from the provisioned host images (provisioned.ts), which take a
// few minutes to build whenever mailrig has changed. They are built here, at the start, for every
// release under test, while the jobs that need none run (unit + integration, the files that
// provision hosts themselves); a job that needs them starts once they are ready.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';
import { ensureProvisionedImage, releasesUnderTest } from './provisioned.js';

const CACHE = process.env.MAILRIG_TEST_CACHE ?? '/var/cache/mailrig-test';
const DURATIONS = join(CACHE, 'test-durations.json');

interface Job {
  /** The name printed and timed: an e2e file's base name, or "unit+integration". */
  name: string;
  /** Arguments to `node --test` after the reporter. */
  args: string[];
  /** Whether it starts hosts from the provisioned host images (it imports provisioned.js). */
  needsImages: boolean;
}

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
}

function concurrency(): number {
  const raw = process.env.MAILRIG_TEST_CONCURRENCY ?? '3';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`MAILRIG_TEST_CONCURRENCY: expected a whole number of files at once, got ${JSON.stringify(raw)}\n`);
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

/** Whether a compiled e2e file starts hosts from the provisioned images. */
function usesImages(file: string): boolean {
  return readFileSync(file, 'utf8').includes('/support/provisioned.js');
}

/** The outcome of a job that could not start because the images it needs could not be built. */
function notStarted(job: Job, err: unknown): Outcome {
  process.stdout.write(`\n=== ${job.name}: FAILED (not started: the provisioned host images could not be built)\n${err instanceof Error ? err.message : String(err)}\n`);
  return { name: job.name, ok: false, seconds: 0 };
}

function runJob(job: Job): Promise<Outcome> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...job.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('close', (code, signal) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const ok = code === 0;
      process.stdout.write(`\n=== ${job.name}: ${ok ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds} s\n`);
      process.stdout.write(Buffer.concat(out));
      done({ name: job.name, ok, seconds });
    });
  });
}

async function main(): Promise<void> {
  const n = concurrency();
  const dist = join(PROJECT_ROOT, 'dist/test');
  const args = process.argv.slice(2);
  const e2eOnly = args[0] === '--e2e';
  const given = e2eOnly ? args.slice(1) : args;
  if (!e2eOnly && given.length > 0) {
    process.stderr.write('usage: run-tests.js [--e2e [FILE.test.js ...]]\n');
    process.exit(2);
  }
  const files = given.length > 0 ? given.map((f) => resolve(f)) : readdirSync(join(dist, 'e2e')).filter((f) => f.endsWith('.test.js')).map((f) => join(dist, 'e2e', f));
  const jobs: Job[] = files.map((f) => ({ name: basename(f), args: [f], needsImages: usesImages(f) }));
  if (!e2eOnly) jobs.push({ name: 'unit+integration', args: ['--test-concurrency=1', join(dist, 'unit'), join(dist, 'integration')], needsImages: false });
  const known = readDurations();
  const expected = (j: Job) => known[j.name] ?? Number.POSITIVE_INFINITY;
  const queue = [...jobs].sort((a, b) => expected(b) - expected(a) || a.name.localeCompare(b.name));
  process.stdout.write(`tests: ${queue.length} jobs, ${n} at a time, longest first: ${queue.map((j) => j.name).join(' ')}\n`);

  // One build per release, side by side; each settles once (a failure is the jobs' to report).
  const started = Date.now();
  let imagesReady = false;
  const images = jobs.some((j) => j.needsImages)
    ? Promise.all(releasesUnderTest().map((r) => ensureProvisionedImage(r))).then(
        () => {
          imagesReady = true;
          process.stdout.write(`\n=== provisioned host images ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
        },
        (err: unknown) => {
          imagesReady = true;
          throw err;
        },
      )
    : Promise.resolve();
  images.catch(() => undefined); // awaited by the jobs that need it
  // The longest job that can start now; while the images are being built, the longest that needs none.
  const next = (): Job | undefined => {
    const i = imagesReady ? 0 : queue.findIndex((j) => !j.needsImages);
    return queue.splice(i === -1 ? 0 : i, 1)[0];
  };

  const outcomes: Outcome[] = [];
  const lane = async () => {
    for (let job = next(); job !== undefined; job = next()) {
      if (job.needsImages) {
        try {
          await images;
        } catch (err) {
          outcomes.push(notStarted(job, err));
          continue;
        }
      }
      outcomes.push(await runJob(job));
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, lane));

  mkdirSync(dirname(DURATIONS), { recursive: true });
  writeFileSync(DURATIONS, `${JSON.stringify({ ...known, ...Object.fromEntries(outcomes.map((o) => [o.name, o.seconds])) }, null, 2)}\n`);
  process.stdout.write('\n=== jobs\n');
  for (const o of [...outcomes].sort((a, b) => b.seconds - a.seconds)) {
    process.stdout.write(`${String(o.seconds).padStart(6)} s  ${o.ok ? 'ok    ' : 'FAILED'}  ${o.name}\n`);
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    process.stdout.write(`${failed.length} of ${outcomes.length} jobs failed: ${failed.map((o) => o.name).join(' ')}\n`);
    process.exitCode = 1;
  }
}

await main();
