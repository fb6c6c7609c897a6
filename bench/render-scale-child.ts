// One measurement of benchmark 2, in a process of its own so that its peak memory (maxRSS) is its
// own: `render-scale-child.js render <project> <out>` runs `mailrig render --out <out>` in-process;
// `render-scale-child.js plan <project>` loads, renders and plans against facts synthesized to match
// half of the files (the other half differ in content). Prints one JSON line.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { loadProject } from '../src/pipeline/project.js';
import type { Facts } from '../src/host/facts.js';
import { desiredState, MAIN_PROCESS } from '../src/plan/desired.js';
import { makePlan } from '../src/plan/plan.js';

const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function renderCli(project: string, out: string): Promise<Record<string, number>> {
  const start = process.hrtime.bigint();
  const code = await main(['node', 'mailrig', 'render', '--out', out, '--config', join(project, 'mailrig.yaml')]);
  if (code !== 0) throw new Error(`mailrig render exited ${code}`);
  return { totalMs: ms(start) };
}

async function plan(project: string): Promise<Record<string, number>> {
  let t = process.hrtime.bigint();
  const loaded = await loadProject(join(project, 'mailrig.yaml'));
  const loadMs = ms(t);
  t = process.hrtime.bigint();
  const desired = desiredState({ config: loaded.config, keys: loaded.keys, release: loaded.config.server.release }, 'sysv');
  const renderMs = ms(t);

  // Recorded facts of a host that has every package and daemon, and half of the files as rendered.
  const files: Facts['files'] = {};
  const before = new Map<string, string>();
  desired.files.forEach((f, i) => {
    const same = i % 2 === 0;
    files[f.path] = { sha256: same ? sha256(f.content) : sha256(`${f.content}#old`), mode: f.mode, owner: f.owner, group: f.group };
    if (!same && !f.secret) before.set(f.path, `${f.content}#old`);
  });
  const facts: Facts = {
    os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    release: 'debian-12',
    init: 'sysv',
    packages: Object.fromEntries(desired.packages.map((p) => [p, '1.0'])),
    files,
    services: Object.fromEntries(Object.keys(MAIN_PROCESS).map((d, i) => [d, 100 + i])),
    users: ['vmail'],
    timers: [],
    managed: [],
    data: [],
  };
  t = process.hrtime.bigint();
  const result = makePlan(desired, facts, before);
  const planMs = ms(t);
  if (result.changes.length !== Math.floor(desired.files.length / 2)) {
    throw new Error(`plan: ${result.changes.length} changes for ${desired.files.length} files, expected half`);
  }
  return { loadMs, renderMs, planMs, files: desired.files.length, changes: result.changes.length };
}

const [mode, project, out] = process.argv.slice(2);
const start = process.hrtime.bigint();
const figures = mode === 'render' && project && out ? await renderCli(project, out) : mode === 'plan' && project ? await plan(project) : undefined;
if (!figures) throw new Error('usage: render-scale-child.js render <project> <out> | plan <project>');
// maxRSS is in kilobytes: the process's peak resident memory, start-up included.
process.stdout.write(`${JSON.stringify({ ...figures, inProcessMs: ms(start), maxRssKb: process.resourceUsage().maxRSS })}\n`);
