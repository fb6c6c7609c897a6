// Benchmark 3: memory of the deployed stack. For each release (Debian 12 and 13): provision a test
// host, deliver one message (alice → bob over 587), let the host go idle, then sum the PSS
// (/proc/<pid>/smaps_rollup) of every Postfix, Dovecot, rspamd, Redis, nginx, unbound, postsrsd,
// mta-sts-daemon (with systemd's socket proxy in front of it) and TLS policy front (both Python: told
// apart by their command lines; both run on demand where systemd is PID 1, and exit idle) process, per
// service and in total, over a few samples; rspamd's processes (main, proxy, controller, hs_helper,
// and any other role found) are shown one by one as well. Target: under 150 MB in total, spam
// filtering and the local validating resolver on.
//
// Four moments, each followed by one more delivery and the same idle wait:
// - right after `mailrig setup` (packages installed, rspamd started for the first time);
// - then with the optional services on (`webmail: roundcube` and `dav: radicale` added, applied, the
//   login page and the DAV root asked for once): PHP-FPM (master and pool workers) and Radicale are
//   counted as rows of their own, and in the total; then switched off again, so that the moments
//   after it show the stack with their packages installed and off (no PHP-FPM or Radicale process);
// - after a reboot (systemd powers the host off, it boots again from the same disk);
// - after a package upgrade and `mailrig apply`: `apt-get install --reinstall` of rspamd, Dovecot and
//   Postfix (apt installs a newer version where the archive has one), with rspamd's compiled
//   Hyperscan cache removed first, as a new rspamd version finds it stale and compiles it again.
// rspamd compiles its URL matcher's Hyperscan database when the cache has none; compiled in its
// main process, that process keeps about 200 MB more for its whole life, inherited by every worker.
// mailrig's drop-in compiles it in a short-lived process before each start; these figures show
// whether that holds at every moment.
//
// BENCH_MEMORY_RELEASES=bookworm,trixie picks releases; BENCH_IDLE_SECONDS (default 110: Postfix's
// per-message processes exit after max_idle, 30 s in mailrig's main.cf, 100 s by default) sets the
// wait before sampling;
// BENCH_MEMORY_HOLD_SECONDS keeps the host up afterwards for manual experiments (nsenter into it).
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { STS_FRONT_SCRIPT } from '../src/render/mta-sts.js';
import type { TestHost, TestHostRelease } from '../test/support/testhost.js';
import { show } from '../test/support/e2e.js';
import { BOB_MAILDIR, MAIL_DOMAIN, mustExec, sendOne, waitForMessages, withProvisionedHost, type Provisioned } from './lib/host.js';
import { fmtMB, header, spread, summarize, table, verdict, writeResults, type Summary } from './lib/stats.js';

const RELEASES = (process.env.BENCH_MEMORY_RELEASES ?? 'bookworm,trixie').split(',') as TestHostRelease[];
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 110);
const HOLD_SECONDS = Number(process.env.BENCH_MEMORY_HOLD_SECONDS ?? 0);
const SAMPLES = 3;
const OPTIONAL_ON = 'webmail + DAV on';
const TARGET_MB = 150;
const SERVICES = ['postfix', 'dovecot', 'rspamd', 'redis', 'nginx', 'unbound', 'postsrsd', 'mta-sts', 'sts-front', 'php-fpm', 'radicale'] as const;
type Counted = (typeof SERVICES)[number];
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProcessMemory {
  pid: number;
  exe: string;
  comm: string;
  /** The command line, which names an rspamd process's role ("rspamd: main process"). */
  cmdline: string;
  /** Proportional set size, kB. */
  pssKb: number;
  service: Counted | 'other';
}

/** Every process of the host with its executable and PSS (kernel threads have no exe and are skipped). */
const PSS_SCRIPT = `for d in /proc/[0-9]*; do
  exe=$(readlink "$d/exe" 2>/dev/null) || continue
  pss=$(awk '/^Pss:/ {print $2}' "$d/smaps_rollup" 2>/dev/null) || continue
  [ -n "$pss" ] || continue
  printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "\${d#/proc/}" "$exe" "$(cat "$d/comm" 2>/dev/null)" "$pss" "$(tr '\\0\\t' '  ' < "$d/cmdline" 2>/dev/null)"
done`;

export function serviceOf(exe: string, cmdline = ''): Counted | 'other' {
  if (exe.startsWith('/usr/lib/postfix/') || /^\/usr\/sbin\/(postfix|postdrop|postqueue|sendmail)$/.test(exe)) return 'postfix';
  if (exe.startsWith('/usr/lib/dovecot/') || exe === '/usr/sbin/dovecot') return 'dovecot';
  if (exe === '/usr/bin/rspamd' || exe.startsWith('/usr/bin/rspamd')) return 'rspamd';
  if (/^\/usr\/bin\/redis-(server|check-rdb|check-aof)$/.test(exe)) return 'redis';
  if (exe === '/usr/sbin/nginx') return 'nginx';
  if (exe === '/usr/sbin/unbound') return 'unbound';
  if (exe === '/usr/sbin/postsrsd') return 'postsrsd';
  if (/^\/usr\/sbin\/php-fpm[0-9.]+$/.test(exe)) return 'php-fpm';
  // Where the MTA-STS pair runs on demand, systemd's proxy in front of mta-sts-daemon is part of it.
  if (/^\/(usr\/)?lib\/systemd\/systemd-socket-proxyd$/.test(exe)) return 'mta-sts';
  if (/^\/usr\/bin\/python3/.test(exe)) {
    const script = cmdline.split(' ').find((word) => !word.startsWith('/usr/bin/python3'));
    if (script === '/usr/bin/mta-sts-daemon') return 'mta-sts';
    if (script === STS_FRONT_SCRIPT) return 'sts-front';
    if (script === '/usr/bin/radicale' || /(^| )-m radicale( |$)/.test(cmdline)) return 'radicale';
  }
  return 'other';
}

export async function sampleProcesses(host: TestHost): Promise<ProcessMemory[]> {
  const r = await host.exec(PSS_SCRIPT);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, exe, comm, pss, cmdline] = line.split('\t');
      return { pid: Number(pid), exe: exe ?? '', comm: comm ?? '', cmdline: (cmdline ?? '').trim(), pssKb: Number(pss), service: serviceOf(exe ?? '', cmdline ?? '') };
    });
}

/** An rspamd process's role, from its title: main, rspamd_proxy, controller, hs_helper (normal when enabled). */
export function rspamdRole(cmdline: string): string {
  return /^rspamd: (\S+) process/.exec(cmdline)?.[1] ?? 'other';
}

export const RSPAMD_ROLES = ['main', 'rspamd_proxy', 'controller', 'hs_helper'] as const;

/** A PHP-FPM process's role, from its title: the master, or a worker of a pool. */
export function phpFpmRole(cmdline: string): 'master' | 'pool' {
  return /^php-fpm: master process/.test(cmdline) ? 'master' : 'pool';
}

export interface Sample {
  perService: Record<Counted, { processes: number; pssKb: number }>;
  /** rspamd's PSS per role (several processes of one role are summed). */
  rspamd: Record<string, number>;
  /** PHP-FPM's processes and PSS: the master, and the pools' workers together. */
  phpFpm: Record<'master' | 'pool', { processes: number; pssKb: number }>;
  totalKb: number;
  processes: ProcessMemory[];
}

export function summarizeSample(processes: ProcessMemory[]): Sample {
  const perService = Object.fromEntries(SERVICES.map((s) => [s, { processes: 0, pssKb: 0 }])) as Sample['perService'];
  const rspamd: Record<string, number> = {};
  const phpFpm: Sample['phpFpm'] = { master: { processes: 0, pssKb: 0 }, pool: { processes: 0, pssKb: 0 } };
  for (const p of processes) {
    if (p.service === 'other') continue;
    perService[p.service].processes++;
    perService[p.service].pssKb += p.pssKb;
    if (p.service === 'rspamd') {
      const role = rspamdRole(p.cmdline);
      rspamd[role] = (rspamd[role] ?? 0) + p.pssKb;
    }
    if (p.service === 'php-fpm') {
      const role = phpFpm[phpFpmRole(p.cmdline)];
      role.processes++;
      role.pssKb += p.pssKb;
    }
  }
  return { perService, rspamd, phpFpm, totalKb: SERVICES.reduce((sum, s) => sum + perService[s].pssKb, 0), processes };
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
  /** 'after apply', 'after reboot', 'after upgrade + apply'. */
  phase: string;
  perService: Record<Counted, { processes: number; pssKb: Summary }>;
  rspamd: Record<string, Summary>;
  phpFpm: Record<'master' | 'pool', { processes: number; pssKb: Summary }>;
  totalKb: Summary;
  /** The last sample's processes, for seeing where memory goes. */
  processes: ProcessMemory[];
}

function releaseResult(release: TestHostRelease, phase: string, samples: Sample[]): ReleaseResult {
  const last = samples[samples.length - 1];
  const roles = [...new Set(samples.flatMap((x) => Object.keys(x.rspamd)))];
  return {
    release,
    phase,
    perService: Object.fromEntries(
      SERVICES.map((s) => [s, { processes: last?.perService[s].processes ?? 0, pssKb: summarize(samples.map((x) => x.perService[s].pssKb)) }]),
    ) as ReleaseResult['perService'],
    rspamd: Object.fromEntries(roles.map((r) => [r, summarize(samples.map((x) => x.rspamd[r] ?? 0))])),
    phpFpm: {
      master: { processes: last?.phpFpm.master.processes ?? 0, pssKb: summarize(samples.map((x) => x.phpFpm.master.pssKb)) },
      pool: { processes: last?.phpFpm.pool.processes ?? 0, pssKb: summarize(samples.map((x) => x.phpFpm.pool.pssKb)) },
    },
    totalKb: summarize(samples.map((x) => x.totalKb)),
    processes: last?.processes ?? [],
  };
}

/**
 * A package upgrade as an operator (or unattended-upgrades) runs it: rspamd, Dovecot and Postfix
 * reinstalled, or upgraded where the archive has a newer version; rspamd's compiled Hyperscan cache
 * removed first, as a new rspamd version finds it stale. Their maintainer scripts restart them.
 */
export const UPGRADE_SCRIPT = `set -e
export DEBIAN_FRONTEND=noninteractive
pkgs=$(dpkg-query -W -f '\${Package} \${db:Status-Abbrev}\\n' 'rspamd' 'dovecot-*' 'postfix*' 2>/dev/null | awk '$2 == "ii" {print $1}')
rm -f /var/lib/rspamd/*.hs /var/lib/rspamd/*.hsmp /var/lib/rspamd/*.hsmc /var/lib/rspamd/*.unser
apt-get -q update >/dev/null
apt-get -q -y install --reinstall $pkgs </dev/null >/dev/null
echo $pkgs`;

async function applyOrFail(p: Provisioned, when: string): Promise<void> {
  const apply = await p.ws.mailrig(['apply', '--yes']);
  if (apply.code !== 0) throw new Error(`mailrig apply ${when} failed\n${show(apply)}`);
}

/** The HTTP status of one GET on the mail host's name (over TLS, the host's certificate trusted). */
function getStatus(p: Provisioned, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: p.host.address, port: 443, path, servername: `mail.${MAIL_DOMAIN}`, ca: p.ca, headers: { Host: `mail.${MAIL_DOMAIN}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function measureRelease(release: TestHostRelease): Promise<ReleaseResult[]> {
  return withProvisionedHost(release, `bench-mem-${release}`, async (p) => {
    let delivered = 0;
    const deliverAndIdle = async () => {
      delivered++;
      await sendOne(p, `memory benchmark ${delivered}`);
      if ((await waitForMessages(p.host, BOB_MAILDIR, delivered, 120_000)) < delivered) throw new Error(`message ${delivered} was not delivered`);
      log(`${release}: delivered; waiting ${IDLE_SECONDS} s for the host to go idle`);
      await sleep(IDLE_SECONDS * 1000);
    };
    const result: ReleaseResult[] = [];
    const measure = async (phase: string) => {
      await deliverAndIdle();
      result.push(releaseResult(release, phase, await measureIdle(p.host)));
    };
    await measure('after apply');

    log(`${release}: switching webmail and DAV on`);
    const yamlPath = join(p.ws.dir, 'mailrig.yaml');
    const plain = readFileSync(yamlPath, 'utf8');
    writeFileSync(yamlPath, `${plain.trimEnd()}\n\nwebmail: roundcube\ndav: radicale\n`);
    await applyOrFail(p, 'with webmail and DAV on');
    // Each has answered once, as after a first visit: PHP-FPM's on-demand worker then idles out.
    for (const path of ['/mail/', '/dav/']) log(`${release}: GET ${path} → ${await getStatus(p, path)}`);
    await measure(OPTIONAL_ON);
    log(`${release}: switching webmail and DAV off again (their packages stay installed)`);
    writeFileSync(yamlPath, plain);
    await applyOrFail(p, 'with webmail and DAV off');

    log(`${release}: rebooting`);
    await p.host.poweroff();
    await p.host.boot();
    await measure('after reboot');

    log(`${release}: reinstalling (or upgrading) rspamd, Dovecot and Postfix with rspamd's Hyperscan cache gone`);
    const upgraded = mustExec(await p.host.exec(UPGRADE_SCRIPT, { timeoutMs: 20 * 60_000 }), 'the package upgrade');
    log(`${release}: reinstalled ${upgraded.trim()}`);
    await applyOrFail(p, 'after the upgrade');
    await measure('after upgrade + apply');

    if (HOLD_SECONDS > 0) {
      const sshd = await p.host.exec('pgrep -o -x sshd');
      log(`${release}: holding the host for ${HOLD_SECONDS} s; enter it with: nsenter -t <pid of its sshd (pgrep -x sshd in netns ${p.host.netns})> -m -u -n -p -r -w (inside: sshd ${sshd.stdout.trim()})`);
      await sleep(HOLD_SECONDS * 1000);
    }
    return result;
  });
}

async function main(): Promise<void> {
  header('3. Memory of the deployed stack, idle after a delivery (sum of PSS): after apply, with webmail + DAV on, after a reboot, after a package upgrade');
  const results: ReleaseResult[] = [];
  for (const release of RELEASES) results.push(...(await measureRelease(release)));
  const col = (r: ReleaseResult) => `${r.release}, ${r.phase}`;
  // One column per release and phase: processes, and PSS median (min–max) over the samples.
  const rows = [['service', ...results.map(col)]];
  const cell = (procs: number, pss: Summary) => `${procs} proc, ${spread(pss, fmtMB)}`;
  for (const s of SERVICES) rows.push([s, ...results.map((r) => cell(r.perService[s].processes, r.perService[s].pssKb))]);
  const roles = [...RSPAMD_ROLES, ...new Set(results.flatMap((r) => Object.keys(r.rspamd)).filter((x) => !(RSPAMD_ROLES as readonly string[]).includes(x)))];
  for (const role of roles) rows.push([`  rspamd ${role}`, ...results.map((r) => (r.rspamd[role] ? spread(r.rspamd[role], fmtMB) : '-'))]);
  for (const role of ['master', 'pool'] as const) {
    rows.push([`  php-fpm ${role}`, ...results.map((r) => (r.phpFpm[role].processes ? cell(r.phpFpm[role].processes, r.phpFpm[role].pssKb) : '-'))]);
  }
  rows.push(['total', ...results.map((r) => cell(SERVICES.reduce((n, s) => n + r.perService[s].processes, 0), r.totalKb))]);
  process.stdout.write(`${table(rows)}\n\n`);
  for (const r of results) {
    if (r.phase === OPTIONAL_ON) {
      // The target is the mail stack's; the optional services' cost is shown against the moment before.
      const plain = results.find((x) => x.release === r.release && x.phase === 'after apply');
      const added = plain ? ` (${fmtMB(r.totalKb.median - plain.totalKb.median)} more than after apply; PHP-FPM ${fmtMB(r.perService['php-fpm'].pssKb.median)}, Radicale ${fmtMB(r.perService.radicale.pssKb.median)})` : '';
      process.stdout.write(`${col(r)}: ${fmtMB(r.totalKb.median)} total${added}\n`);
      continue;
    }
    process.stdout.write(`target under ${TARGET_MB} MB total on ${col(r)}: ${fmtMB(r.totalKb.median)}, ${verdict(r.totalKb.median / 1024 <= TARGET_MB)}\n`);
  }
  const other = results.flatMap((r) => r.processes.filter((p) => p.service === 'other' && /fail2ban/.test(p.comm)).map((p) => `${col(r)} ${p.comm} ${fmtMB(p.pssKb)}`));
  if (other.length) process.stdout.write(`not counted (not one of the stack's): ${other.join(', ')}\n`);
  process.stdout.write(`(${SAMPLES} samples 5 s apart after ${IDLE_SECONDS} s idle)\n`);
  writeResults('memory', { targetMB: TARGET_MB, idleSeconds: IDLE_SECONDS, samples: SAMPLES, results });
}

if (process.argv[1]?.endsWith('/memory.js')) await main();
