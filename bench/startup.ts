// Benchmark 5: CLI start-up. Wall time of `mailrig --help` and `mailrig dns --format json` (a
// one-domain project made by `mailrig init`), each run 20 times as a new process, the way a shell
// runs it: `node bin/mailrig.js …`. `npx mailrig` adds npm's own start-up on top (measured once
// here for reference); a global install runs bin/mailrig.js directly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../test/support/fixtures.js';
import { fmtMs, header, spread, summarize, table, verdict, writeResults, type Summary } from './lib/stats.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 20);
const TARGET_HELP_MS = 150;
const BIN = join(PROJECT_ROOT, 'bin/mailrig.js');

/** Wall time and CPU time (user + system, from /usr/bin/time: less sensitive to a busy machine) in ms. */
function timeProcess(cmd: string, args: string[], cwd: string): { wall: number; cpu: number } {
  const cpuFile = join(cwd, '.cpu-time');
  const start = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', HOME: cwd }, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${String(r.stderr)}`);
  const [user, sys] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  return { wall, cpu: ((user ?? NaN) + (sys ?? NaN)) * 1000 };
}

function measure(cmd: string, args: string[], cwd: string, runs: number): Summary & { cpu: Summary } {
  timeProcess(cmd, args, cwd); // warm the page cache once; not counted
  const all = Array.from({ length: runs }, () => timeProcess(cmd, args, cwd));
  return { ...summarize(all.map((t) => t.wall)), cpu: summarize(all.map((t) => t.cpu)) };
}

async function main(): Promise<void> {
  header('5. CLI start-up');
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-bench-startup-'));
  try {
    const init = spawnSync(
      process.execPath,
      [BIN, 'init', '--non-interactive', '--domain', 'example.com', '--ipv4', '203.0.113.10', '--ssh', 'root@203.0.113.10',
        '--release', 'debian-12', '--mailbox', 'alice@example.com', '--password-stdin', '--acme', 'self-signed'],
      { cwd: dir, input: 'Bench-password-2026\n', env: { ...process.env, HOME: dir } },
    );
    if (init.status !== 0) throw new Error(`mailrig init failed: ${String(init.stderr)}`);

    const node = measure(process.execPath, ['-e', ''], dir, RUNS);
    const help = measure(process.execPath, [BIN, '--help'], dir, RUNS);
    const dns = measure(process.execPath, [BIN, 'dns', '--format', 'json'], dir, RUNS);
    const npx = measure('npx', ['--no-install', 'mailrig', '--help'], PROJECT_ROOT, 3);

    const rows = [
      ['command', `wall: median (min–max) of ${RUNS}`, 'CPU user+sys: median', 'target'],
      ['node -e "" (Node.js itself)', spread(node), fmtMs(node.cpu.median), ''],
      ['node bin/mailrig.js --help', spread(help), fmtMs(help.cpu.median), `< ${TARGET_HELP_MS} ms wall: ${verdict(help.median < TARGET_HELP_MS)}`],
      ['node bin/mailrig.js dns --format json', spread(dns), fmtMs(dns.cpu.median), ''],
      ['npx mailrig --help (3 runs; npm start-up)', spread(npx), fmtMs(npx.cpu.median), 'for reference'],
    ];
    process.stdout.write(`${table(rows)}\n`);
    process.stdout.write(`\nmailrig's own share of --help: ${fmtMs(help.median - node.median)} wall, ${fmtMs(help.cpu.median - node.cpu.median)} CPU above a bare Node.js start.\n`);
    writeResults('startup', {
      runs: RUNS,
      targetHelpMs: TARGET_HELP_MS,
      met: help.median < TARGET_HELP_MS,
      node,
      help,
      dnsJson: dns,
      npxHelp: npx,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
