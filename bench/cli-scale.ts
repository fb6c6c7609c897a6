// Benchmark 6: the commands an operator runs, as whole processes, from one domain to 10,000.
// `mailrig dns --format json` and `mailrig render --out DIR` for 1, 1,000 and 10,000 domains (10
// mailboxes and 5 aliases each, projects written by render-scale.ts), and `mailrig user add` on a
// 2,000-domain file. Every command runs once unmeasured first: that run upgrades a key store written
// without public key values, as the first run on an older store would; the figures are the runs after.
// BENCH_CLI_SCALE_SIZES (1,1000,10000), BENCH_CLI_SCALE_USER_ADD (2000; 0 skips it) and
// BENCH_CLI_SCALE_RUNS (measured runs per command) narrow it down.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../test/support/fixtures.js';
import { makeProject } from './render-scale.js';
import { fmtMs, header, spread, summarize, table, verdict, writeResults, type Summary } from './lib/stats.js';

const BIN = join(PROJECT_ROOT, 'bin/mailrig.js');
const SIZES = (process.env.BENCH_CLI_SCALE_SIZES ?? '1,1000,10000').split(',').map(Number);
const USER_ADD_DOMAINS = Number(process.env.BENCH_CLI_SCALE_USER_ADD ?? 2000);
const TARGETS = {
  oneDomainOverNodeMs: 150,
  render1000Ms: 1000,
  dns1000Ms: 500,
  at10000Ms: 8000,
  userAdd2000Ms: 1000,
};
const RUNS = process.env.BENCH_CLI_SCALE_RUNS === undefined ? undefined : Number(process.env.BENCH_CLI_SCALE_RUNS);
const runsFor = (domains: number) => RUNS ?? (domains >= 10_000 ? 1 : domains >= 1000 ? 3 : 10);

function timeOnce(args: string[], cwd: string, input?: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, input, env: { ...process.env, NO_COLOR: '1', HOME: cwd }, stdio: ['pipe', 'ignore', 'pipe'], maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')}: exit ${r.status}\n${String(r.stderr).slice(-3000)}`);
  return ms;
}

/** One unmeasured run, then `runs` measured ones; `before` prepares each run (not timed). */
function measure(args: () => string[], cwd: string, runs: number, before: () => void = () => {}, input?: string): Summary {
  before();
  timeOnce(args(), cwd, input);
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    before();
    all.push(timeOnce(args(), cwd, input));
  }
  return summarize(all);
}

interface SizeResult {
  domains: number;
  dnsJson: Summary;
  render: Summary;
}

function measureSize(n: number): SizeResult {
  process.stderr.write(`bench: ${n} domains\n`);
  const dir = makeProject(n);
  try {
    const config = join(dir, 'mailrig.yaml');
    const out = join(dir, 'out');
    const clean = () => rmSync(out, { recursive: true, force: true });
    const dnsJson = measure(() => [BIN, 'dns', '--format', 'json', '--config', config], dir, runsFor(n));
    const render = measure(() => [BIN, 'render', '--out', out, '--config', config], dir, runsFor(n), clean);
    return { domains: n, dnsJson, render };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measureUserAdd(n: number): Summary {
  process.stderr.write(`bench: user add on ${n} domains\n`);
  const dir = makeProject(n);
  const pristine = join(dir, 'mailrig.yaml.orig');
  cpSync(join(dir, 'mailrig.yaml'), pristine);
  try {
    const config = join(dir, 'mailrig.yaml');
    const address = `newcomer@d${String(Math.ceil(n / 2)).padStart(5, '0')}.example`;
    // Each run adds the same mailbox to the same file, restored before the run.
    return measure(() => [BIN, 'user', 'add', address, '--password-stdin', '--config', config], dir, RUNS ?? 3, () => cpSync(pristine, config), 'Bench-password-2026\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  header('6. CLI at scale: dns --format json, render, user add (whole processes, 10 mailboxes and 5 aliases per domain)');
  const scratch = mkdtempSync(join(tmpdir(), 'mailrig-bench-cli-scale-'));
  const node = measure(() => ['-e', '0'], scratch, 10);
  rmSync(scratch, { recursive: true, force: true });
  const sizes = SIZES.map(measureSize);
  const userAdd = USER_ADD_DOMAINS > 0 ? measureUserAdd(USER_ADD_DOMAINS) : undefined;

  const at = (n: number) => sizes.find((s) => s.domains === n);
  const one = at(1);
  const k = at(1000);
  const tenK = at(10_000);
  const over = (s: Summary) => s.median - node.median;
  const rows: string[][] = [['command', 'wall: median (min–max)', 'target', '']];
  rows.push(['node -e 0 (Node.js itself)', spread(node), '', '']);
  const target = (label: string, s: Summary, limit: number, shown: string, value = s.median) =>
    rows.push([label, spread(s), shown, verdict(value < limit)]);
  if (one) {
    target('dns --format json, 1 domain', one.dnsJson, TARGETS.oneDomainOverNodeMs, `≤ node + ${TARGETS.oneDomainOverNodeMs} ms (+${fmtMs(over(one.dnsJson))})`, over(one.dnsJson));
    target('render, 1 domain', one.render, TARGETS.oneDomainOverNodeMs, `≤ node + ${TARGETS.oneDomainOverNodeMs} ms (+${fmtMs(over(one.render))})`, over(one.render));
  }
  if (k) {
    target('dns --format json, 1,000 domains', k.dnsJson, TARGETS.dns1000Ms, `< ${fmtMs(TARGETS.dns1000Ms)}`);
    target('render, 1,000 domains', k.render, TARGETS.render1000Ms, `< ${fmtMs(TARGETS.render1000Ms)}`);
  }
  if (tenK) {
    target('dns --format json, 10,000 domains', tenK.dnsJson, TARGETS.at10000Ms, `< ${fmtMs(TARGETS.at10000Ms)}`);
    target('render, 10,000 domains', tenK.render, TARGETS.at10000Ms, `< ${fmtMs(TARGETS.at10000Ms)}`);
  }
  if (userAdd) target(`user add, ${USER_ADD_DOMAINS.toLocaleString('en')} domains`, userAdd, TARGETS.userAdd2000Ms, `< ${fmtMs(TARGETS.userAdd2000Ms)}`);
  process.stdout.write(`${table(rows)}\n`);

  const ratio = (key: 'dnsJson' | 'render') => (k && tenK ? tenK[key].median / k[key].median : undefined);
  const dnsRatio = ratio('dnsJson');
  const renderRatio = ratio('render');
  if (dnsRatio !== undefined && renderRatio !== undefined) {
    process.stdout.write(
      `\ngrowth 10,000 / 1,000 domains (10 is linear; process start-up makes it lower): dns --format json ${dnsRatio.toFixed(1)}, render ${renderRatio.toFixed(1)}\n`,
    );
  }
  writeResults('cli-scale', { targets: TARGETS, node, sizes, userAdd, userAddDomains: USER_ADD_DOMAINS, growth10000over1000: { dnsJson: dnsRatio, render: renderRatio } });
}

main();
