// Benchmark 3: memory of the deployed stack. For each release (Debian 12 and 13): provision a test
// host, deliver one message (alice → bob over 587), let the host go idle, then sum the PSS
// (/proc/<pid>/smaps_rollup) of every Postfix, Dovecot, rspamd, Redis and nginx process, per service
// and in total, over a few samples. Target: under 180 MB in total, spam filtering on.
//
// Then a second measurement after one `service rspamd restart` (and one more delivery, and the same
// idle wait): rspamd's first start compiles its Hyperscan databases with no cache and keeps the
// memory that took (its main process's heap, inherited by every worker), while a start with the
// cache in /var/lib/rspamd does not. The second figure is what a host settles at after any restart.
//
// BENCH_MEMORY_RELEASES=bookworm,trixie picks releases; BENCH_IDLE_SECONDS (default 110: Postfix's
// per-message processes exit after max_idle, 100 s) sets the wait before sampling;
// BENCH_MEMORY_HOLD_SECONDS keeps the host up afterwards for manual experiments (nsenter into it).
import type { TestHost, TestHostRelease } from '../test/support/testhost.js';
import { BOB_MAILDIR, sendOne, waitForMessages, withProvisionedHost } from './lib/host.js';
import { fmtMB, header, spread, summarize, table, verdict, writeResults, type Summary } from './lib/stats.js';

const RELEASES = (process.env.BENCH_MEMORY_RELEASES ?? 'bookworm,trixie').split(',') as TestHostRelease[];
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 110);
const HOLD_SECONDS = Number(process.env.BENCH_MEMORY_HOLD_SECONDS ?? 0);
const SAMPLES = 3;
const TARGET_MB = 180;
const SERVICES = ['postfix', 'dovecot', 'rspamd', 'redis', 'nginx'] as const;
type Counted = (typeof SERVICES)[number];
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProcessMemory {
  pid: number;
  exe: string;
  comm: string;
  /** Proportional set size, kB. */
  pssKb: number;
  service: Counted | 'other';
}

/** Every process of the host with its executable and PSS (kernel threads have no exe and are skipped). */
const PSS_SCRIPT = `for d in /proc/[0-9]*; do
  exe=$(readlink "$d/exe" 2>/dev/null) || continue
  pss=$(awk '/^Pss:/ {print $2}' "$d/smaps_rollup" 2>/dev/null) || continue
  [ -n "$pss" ] || continue
  printf '%s\\t%s\\t%s\\t%s\\n' "\${d#/proc/}" "$exe" "$(cat "$d/comm" 2>/dev/null)" "$pss"
done`;

export function serviceOf(exe: string): Counted | 'other' {
  if (exe.startsWith('/usr/lib/postfix/') || /^\/usr\/sbin\/(postfix|postdrop|postqueue|sendmail)$/.test(exe)) return 'postfix';
  if (exe.startsWith('/usr/lib/dovecot/') || exe === '/usr/sbin/dovecot') return 'dovecot';
  if (exe === '/usr/bin/rspamd' || exe.startsWith('/usr/bin/rspamd')) return 'rspamd';
  if (/^\/usr\/bin\/redis-(server|check-rdb|check-aof)$/.test(exe)) return 'redis';
  if (exe === '/usr/sbin/nginx') return 'nginx';
  return 'other';
}

export async function sampleProcesses(host: TestHost): Promise<ProcessMemory[]> {
  const r = await host.exec(PSS_SCRIPT);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, exe, comm, pss] = line.split('\t');
      return { pid: Number(pid), exe: exe ?? '', comm: comm ?? '', pssKb: Number(pss), service: serviceOf(exe ?? '') };
    });
}

export interface Sample {
  perService: Record<Counted, { processes: number; pssKb: number }>;
  totalKb: number;
  processes: ProcessMemory[];
}

export function summarizeSample(processes: ProcessMemory[]): Sample {
  const perService = Object.fromEntries(SERVICES.map((s) => [s, { processes: 0, pssKb: 0 }])) as Sample['perService'];
  for (const p of processes) {
    if (p.service === 'other') continue;
    perService[p.service].processes++;
    perService[p.service].pssKb += p.pssKb;
  }
  return { perService, totalKb: SERVICES.reduce((sum, s) => sum + perService[s].pssKb, 0), processes };
}

export async function measureIdle(host: TestHost, samples = SAMPLES): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await sleep(5000);
    out.push(summarizeSample(await sampleProcesses(host)));
  }
  return out;
}

interface ReleaseResult {
  release: TestHostRelease;
  /** 'as provisioned', or 'after rspamd restart'. */
  phase: string;
  perService: Record<Counted, { processes: number; pssKb: Summary }>;
  totalKb: Summary;
  /** The last sample's processes, for seeing where memory goes. */
  processes: ProcessMemory[];
}

function releaseResult(release: TestHostRelease, phase: string, samples: Sample[]): ReleaseResult {
  const last = samples[samples.length - 1];
  return {
    release,
    phase,
    perService: Object.fromEntries(
      SERVICES.map((s) => [s, { processes: last?.perService[s].processes ?? 0, pssKb: summarize(samples.map((x) => x.perService[s].pssKb)) }]),
    ) as ReleaseResult['perService'],
    totalKb: summarize(samples.map((x) => x.totalKb)),
    processes: last?.processes ?? [],
  };
}

async function measureRelease(release: TestHostRelease): Promise<ReleaseResult[]> {
  return withProvisionedHost(release, `bench-mem-${release}`, async (p) => {
    const deliverAndIdle = async (n: number) => {
      await sendOne(p, `memory benchmark ${n}`);
      if ((await waitForMessages(p.host, BOB_MAILDIR, n, 60_000)) < n) throw new Error(`message ${n} was not delivered`);
      log(`${release}: delivered; waiting ${IDLE_SECONDS} s for the host to go idle`);
      await sleep(IDLE_SECONDS * 1000);
    };
    await deliverAndIdle(1);
    const result = [releaseResult(release, 'as provisioned', await measureIdle(p.host))];
    await p.host.exec('service rspamd restart >/dev/null 2>&1 </dev/null');
    for (let i = 0; i < 120 && (await p.host.exec('ss -ltn | grep -q ":11332 "')).code !== 0; i++) await sleep(500);
    await deliverAndIdle(2);
    result.push(releaseResult(release, 'after rspamd restart', await measureIdle(p.host)));
    if (HOLD_SECONDS > 0) {
      const sshd = await p.host.exec('pgrep -o -x sshd');
      log(`${release}: holding the host for ${HOLD_SECONDS} s; enter it with: nsenter -t <pid of its sshd (pgrep -x sshd in netns ${p.host.netns})> -m -u -n -p -r -w (inside: sshd ${sshd.stdout.trim()})`);
      await sleep(HOLD_SECONDS * 1000);
    }
    return result;
  });
}

async function main(): Promise<void> {
  header('3. Memory of the deployed stack, idle after one delivery (sum of PSS)');
  const results: ReleaseResult[] = [];
  for (const release of RELEASES) results.push(...(await measureRelease(release)));
  const col = (r: ReleaseResult) => `${r.release}, ${r.phase}`;
  // One column per release and phase: processes, and PSS median (min–max) over the samples.
  const rows = [['service', ...results.map(col)]];
  const cell = (procs: number, pss: Summary) => `${procs} proc, ${spread(pss, fmtMB)}`;
  for (const s of SERVICES) rows.push([s, ...results.map((r) => cell(r.perService[s].processes, r.perService[s].pssKb))]);
  rows.push(['total', ...results.map((r) => cell(SERVICES.reduce((n, s) => n + r.perService[s].processes, 0), r.totalKb))]);
  process.stdout.write(`${table(rows)}\n\n`);
  for (const r of results) {
    process.stdout.write(`target < ${TARGET_MB} MB total on ${col(r)}: ${fmtMB(r.totalKb.median)}, ${verdict(r.totalKb.median / 1024 < TARGET_MB)}\n`);
  }
  const other = results.flatMap((r) => r.processes.filter((p) => p.service === 'other' && /fail2ban/.test(p.comm)).map((p) => `${col(r)} ${p.comm} ${fmtMB(p.pssKb)}`));
  if (other.length) process.stdout.write(`not counted (not one of the five): ${other.join(', ')}\n`);
  process.stdout.write(`(${SAMPLES} samples 5 s apart after ${IDLE_SECONDS} s idle)\n`);
  writeResults('memory', { targetMB: TARGET_MB, idleSeconds: IDLE_SECONDS, samples: SAMPLES, results });
}

if (process.argv[1]?.endsWith('/memory.js')) await main();
