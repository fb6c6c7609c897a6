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
// Each job's CPU time is reported beside its duration: its own processes' (a cgroup per job, on a
// cgroup v2 machine) and its test hosts' (each host's cgroup, read as it stops), as the cores, not
// the wall clock, are what the jobs share. Exit status 1 when any job failed.
//
// Most e2e files start their hosts from the provisioned host images (provisioned.ts), which take a
// few minutes to build whenever mailrig has changed. They are built here, at the start, for every
// release under test, while the jobs that need none run (unit + integration, the files that
// provision hosts themselves); a job that needs them starts once they are ready.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';
import { ensureProvisionedImage, releasesUnderTest } from './provisioned.js';
import { cgroupCpuSeconds } from './testhost.js';

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
  /** CPU seconds of the job's own processes, when the machine could measure them. */
  cpu?: number;
  /** CPU seconds of its test hosts, and how many there were. */
  hostCpu: number;
  hosts: number;
}

const CGROUP2_MAGIC = 0x63677270;
/** Where each job's cgroup goes: under the cgroup v2 hierarchy (all of it, or a hybrid machine's unified part). */
const JOB_CGROUPS = (() => {
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (statfsSync(root).type === CGROUP2_MAGIC) return join(root, 'mailrig-tests');
    } catch {
      // not mounted here
    }
  }
  return undefined;
})();
const CPU_LOGS = mkdtempSync(join(tmpdir(), 'mailrig-test-cpu-'));

/** Seconds the machine's cores have been busy since boot (user, nice, system, irq, softirq, steal), from /proc/stat. */
function busyCpu(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

function cpuText(o: Outcome): string {
  const own = o.cpu === undefined ? '' : `${Math.round(o.cpu)} s here`;
  const hosts = o.hosts > 0 ? `${Math.round(o.hostCpu)} s on ${o.hosts} host${o.hosts === 1 ? '' : 's'}` : '';
  return [own, hosts].filter(Boolean).join(', ');
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
  return { name: job.name, ok: false, seconds: 0, hostCpu: 0, hosts: 0 };
}

function runJob(job: Job): Promise<Outcome> {
  const started = Date.now();
  const slug = job.name.replace(/[^\w.+-]/g, '_');
  const cpuLog = join(CPU_LOGS, slug);
  let cgroup: string | undefined;
  if (JOB_CGROUPS) {
    cgroup = join(JOB_CGROUPS, slug);
    try {
      mkdirSync(cgroup, { recursive: true });
    } catch {
      cgroup = undefined;
    }
  }
  const node = [process.execPath, '--test', '--test-reporter=spec', ...job.args];
  // The shell joins the job's cgroup before it becomes node, so that every process of the job is in it.
  const argv = cgroup ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" 2>/dev/null; exec "$@"', cgroup, ...node] : node;
  return new Promise((done) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILRIG_TEST_CPU_LOG: cpuLog } });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('close', (code, signal) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const ok = code === 0;
      const cpu = cgroup ? cgroupCpuSeconds(cgroup) : undefined;
      if (cgroup) {
        try {
          rmdirSync(cgroup); // fails while a stray process of the job is still in it: left for the next run
        } catch {
          // reported figures only
        }
      }
      const hostCpus = existsSync(cpuLog) ? readFileSync(cpuLog, 'utf8').split('\n').filter(Boolean).map(Number) : [];
      const outcome: Outcome = { name: job.name, ok, seconds, cpu, hostCpu: hostCpus.reduce((a, b) => a + b, 0), hosts: hostCpus.length };
      const cost = cpuText(outcome);
      process.stdout.write(`\n=== ${job.name}: ${ok ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds} s${cost ? ` (CPU: ${cost})` : ''}\n`);
      process.stdout.write(Buffer.concat(out));
      done(outcome);
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
  const busyAtStart = busyCpu();
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
    const cost = cpuText(o);
    process.stdout.write(`${String(o.seconds).padStart(6)} s  ${o.ok ? 'ok    ' : 'FAILED'}  ${o.name}${cost ? `  (CPU: ${cost})` : ''}\n`);
  }
  const machine = outcomes.reduce((a, o) => a + (o.cpu ?? 0), 0);
  const hosts = outcomes.reduce((a, o) => a + o.hostCpu, 0);
  process.stdout.write(`CPU, all jobs: ${Math.round(machine)} s on this machine, ${Math.round(hosts)} s on test hosts\n`);
  const busy = busyCpu() - busyAtStart;
  const wall = (Date.now() - started) / 1000;
  process.stdout.write(`CPU, the whole machine: ${Math.round(busy)} s busy of ${Math.round(wall * availableParallelism())} s (${Math.round(wall)} s on ${availableParallelism()} cores)\n`);
  rmSync(CPU_LOGS, { recursive: true, force: true });
  if (JOB_CGROUPS) {
    try {
      rmdirSync(JOB_CGROUPS); // once every job's own is gone
    } catch {
      // a job's stray process keeps it: the next run uses it again
    }
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    process.stdout.write(`${failed.length} of ${outcomes.length} jobs failed: ${failed.map((o) => o.name).join(' ')}\n`);
    process.exitCode = 1;
  }
}

await main();
