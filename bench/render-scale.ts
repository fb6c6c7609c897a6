// Benchmark 2: render and plan at scale. 10, 100, 1,000 and 10,000 domains with 10 mailboxes and
// 5 aliases each: wall time and peak memory (maxRSS) of `mailrig render --out DIR` and of the plan
// step (load + render + makePlan against recorded facts that match half the files), each run in a
// process of its own. Key material: generating 10,000 domains' DKIM keys takes long, so every
// domain reuses the fixture key pair of example.com (test/fixtures/keystore); rendering and key
// loading still handle one key pair per domain.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { fixtureKeyDir, TEST_HASH } from '../test/support/fixtures.js';
import { fmtMB, fmtMs, header, spread, summarize, table, verdict, writeResults, type Summary } from './lib/stats.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '10,100,1000,10000').split(',').map(Number);
const MAILBOXES = 10;
const ALIASES = ['postmaster', 'abuse', 'info', 'sales', 'support'];
const TARGET_1000_MS = 1000;
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'render-scale-child.js');

const runsFor = (domains: number) => (domains >= 10_000 ? 1 : domains >= 1000 ? 3 : 5);
const domainName = (i: number) => `d${String(i).padStart(5, '0')}.example`;

/** A project directory: mailrig.yaml with `n` domains and a key store with a key pair for each. */
export function makeProject(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), `mailrig-bench-scale-${n}-`));
  const keys = join(dir, '.mailrig');
  // fixtureKeyDir() makes a private copy with the modes the key store requires.
  const fixture = fixtureKeyDir();
  cpSync(fixture, keys, { recursive: true });
  const index = JSON.parse(readFileSync(join(fixture, 'keys.json'), 'utf8')) as { dkim: Record<string, unknown[]> };
  const selectors = index.dkim['example.com'] ?? [];
  const pems = ['r20260115.pem', 'e20260115.pem'].map((f) => [f, readFileSync(join(fixture, 'dkim/example.com', f))] as const);
  const dkim: Record<string, unknown[]> = {};
  const domains: Record<string, unknown> = {};
  for (let i = 1; i <= n; i++) {
    const name = domainName(i);
    dkim[name] = selectors;
    mkdirSync(join(keys, 'dkim', name), { recursive: true, mode: 0o700 });
    for (const [file, pem] of pems) writeFileSync(join(keys, 'dkim', name, file), pem, { mode: 0o600 });
    const mailboxes: Record<string, unknown> = {};
    for (let m = 0; m < MAILBOXES; m++) mailboxes[`user${m}`] = { password_hash: TEST_HASH, quota: '1G' };
    domains[name] = { mailboxes, aliases: Object.fromEntries(ALIASES.map((a, k) => [a, `user${k}`])) };
  }
  chmodSync(join(keys, 'dkim'), 0o700);
  writeFileSync(join(keys, 'keys.json'), `${JSON.stringify({ dkim }, null, 2)}\n`);
  const config = {
    server: { hostname: `mail.${domainName(1)}`, ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
    admin_email: `admin@${domainName(1)}`,
    tls: { acme: 'self-signed' },
    domains,
  };
  writeFileSync(join(dir, 'mailrig.yaml'), stringify(config));
  rmSync(dirname(fixture), { recursive: true, force: true });
  return dir;
}

interface ChildResult {
  wallMs: number;
  figures: Record<string, number>;
}

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`${args.join(' ')}: exit ${code}\n${err.slice(-3000)}`));
      resolve({ wallMs, figures: JSON.parse(last) as Record<string, number> });
    });
  });
}

interface SizeResult {
  domains: number;
  files: number;
  render: { wallMs: Summary; inProcessMs: Summary; maxRssKb: Summary };
  plan: { wallMs: Summary; loadMs: Summary; renderMs: Summary; planMs: Summary; maxRssKb: Summary };
}

const pick = (rs: ChildResult[], key: string) => summarize(rs.map((r) => r.figures[key] ?? NaN));

async function measureSize(n: number): Promise<SizeResult> {
  process.stderr.write(`bench: ${n} domains: writing the project\n`);
  const dir = makeProject(n);
  try {
    const renders: ChildResult[] = [];
    const plans: ChildResult[] = [];
    for (let i = 0; i < runsFor(n); i++) {
      const out = join(dir, `out-${i}`);
      renders.push(await runChild(['render', dir, out]));
      rmSync(out, { recursive: true, force: true });
      plans.push(await runChild(['plan', dir]));
    }
    return {
      domains: n,
      files: plans[0]?.figures.files ?? 0,
      render: {
        wallMs: summarize(renders.map((r) => r.wallMs)),
        inProcessMs: pick(renders, 'totalMs'),
        maxRssKb: pick(renders, 'maxRssKb'),
      },
      plan: {
        wallMs: summarize(plans.map((r) => r.wallMs)),
        loadMs: pick(plans, 'loadMs'),
        renderMs: pick(plans, 'renderMs'),
        planMs: pick(plans, 'planMs'),
        maxRssKb: pick(plans, 'maxRssKb'),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  header('2. Render and plan at scale (10 mailboxes and 5 aliases per domain; one fixture DKIM key pair reused for every domain)');
  const results: SizeResult[] = [];
  for (const n of SIZES) results.push(await measureSize(n));

  const rows = [['domains', 'files', 'render: process wall', 'render: in-process', 'render: peak RSS', 'plan: load config+keys', 'plan: render', 'plan: makePlan', 'plan: peak RSS']];
  for (const r of results) {
    rows.push([
      String(r.domains), String(r.files), spread(r.render.wallMs), fmtMs(r.render.inProcessMs.median), fmtMB(r.render.maxRssKb.median),
      fmtMs(r.plan.loadMs.median), fmtMs(r.plan.renderMs.median), spread(r.plan.planMs), fmtMB(r.plan.maxRssKb.median),
    ]);
  }
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write('\n(process wall: a new `mailrig render --out DIR` process, Node.js start-up and writing the tree included; median (min–max))\n');

  // Growth: time per domain from one size to the next (1.0 = linear).
  const growth: Array<{ from: number; to: number; renderRatio: number; planRatio: number }> = [];
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1];
    const b = results[i];
    if (!a || !b) continue;
    const scale = b.domains / a.domains;
    growth.push({
      from: a.domains,
      to: b.domains,
      renderRatio: b.render.inProcessMs.median / a.render.inProcessMs.median / scale,
      planRatio: (b.plan.renderMs.median + b.plan.planMs.median) / (a.plan.renderMs.median + a.plan.planMs.median) / scale,
    });
  }
  process.stdout.write(`\n${table([
    ['step', 'render: time ratio ÷ size ratio', 'render+plan: time ratio ÷ size ratio'],
    ...growth.map((g) => [`${g.from} → ${g.to}`, g.renderRatio.toFixed(2), g.planRatio.toFixed(2)]),
  ])}\n(1.00 is linear growth; small sizes are dominated by fixed costs, so ratios below 1 are expected there)\n`);

  const k = results.find((r) => r.domains === 1000);
  const met = k ? k.render.wallMs.median < TARGET_1000_MS : undefined;
  if (k) process.stdout.write(`\ntarget: 1,000 domains rendered in < 1 s (whole process): ${fmtMs(k.render.wallMs.median)}, ${verdict(Boolean(met))}\n`);
  writeResults('render-scale', { sizes: SIZES, mailboxesPerDomain: MAILBOXES, aliasesPerDomain: ALIASES.length, keyNote: 'one fixture DKIM key pair reused for every domain', targetMs1000: TARGET_1000_MS, met, results, growth });
}

// `node render-scale.js --project N` only writes a project of N domains and prints its directory (for profiling).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--project') process.stdout.write(`${makeProject(Number(process.argv[3]))}\n`);
  else await main();
}
