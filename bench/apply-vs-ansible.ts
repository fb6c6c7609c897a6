// Benchmark 1: a no-op re-apply, side by side on one provisioned Debian 12 test host.
//   mailrig: `mailrig apply --yes` with nothing to change (a new process each run, as an operator runs it).
//   Ansible: a playbook (Debian's ansible package, installed here if missing; python3 installed on the
//            host) that copies the tree `mailrig render` writes, with the same modes and owners, one
//            copy task per service notifying that service's reload handler. Pipelining on, facts not
//            gathered, and Ansible's default ControlPersist, which keeps one SSH connection open
//            between runs: every choice in Ansible's favour.
//   floor:   one `ssh host sha256sum <every managed file>` (OpenSSH client, new connection each run).
// Targets: mailrig at least 15 times faster than Ansible, and within 4 times the floor.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { show } from '../test/support/e2e.js';
import type { TestHost } from '../test/support/testhost.js';
import type { ManifestEntry } from '../src/render/types.js';
import { mustExec, withProvisionedHost } from './lib/host.js';
import { fmtMs, header, spread, summarize, table, timed, verdict, writeResults } from './lib/stats.js';

const run = promisify(execFile);
const MAILRIG_RUNS = Number(process.env.BENCH_APPLY_RUNS ?? 7);
const ANSIBLE_RUNS = Number(process.env.BENCH_ANSIBLE_RUNS ?? 5);
const FLOOR_RUNS = Number(process.env.BENCH_FLOOR_RUNS ?? 7);
const TARGET_VS_ANSIBLE = 15;
const TARGET_VS_FLOOR = 4;
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function ensureAnsible(): Promise<string> {
  const have = await run('sh', ['-c', 'command -v ansible-playbook']).catch(() => undefined);
  if (!have) {
    log('installing Debian\'s ansible package on this machine (apt-get install -y ansible)');
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'ansible'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
  }
  const { stdout } = await run('ansible-playbook', ['--version']);
  return stdout.split('\n')[0] ?? 'ansible-playbook';
}

/** The handler(s) a changed file notifies, as the apply executor would act on it. */
function handlersOf(e: ManifestEntry): string[] {
  if (e.onChange === 'none') return [];
  if (e.onChange === 'postmap' || e.onChange === 'postalias') return [`${e.onChange} ${e.path}`];
  if (e.service === 'mailrig') return ['reload postfix', 'reload dovecot', 'reload nginx'];
  return [`${e.onChange} ${e.service}`];
}

/** The playbook, as JSON (which YAML reads): one copy task per service, one handler per action. */
function playbook(tree: string, manifest: ManifestEntry[]): string {
  const services = [...new Set(manifest.map((e) => e.service))].sort();
  const tasks = services.map((service) => {
    const entries = manifest.filter((e) => e.service === service);
    return {
      name: `${service} files`,
      'ansible.builtin.copy': { src: '{{ item.src }}', dest: '{{ item.path }}', mode: '{{ item.mode }}', owner: '{{ item.owner }}', group: '{{ item.group }}' },
      loop: entries.map((e) => ({ src: join(tree, e.path), path: e.path, mode: e.mode, owner: e.owner, group: e.group })),
      loop_control: { label: '{{ item.path }}' },
      notify: [...new Set(entries.flatMap(handlersOf))],
    };
  });
  const handlerNames = [...new Set(manifest.flatMap(handlersOf))].sort();
  const handlers = handlerNames.map((name) => {
    const [action, target] = name.split(' ');
    const cmd = action === 'postmap' ? `postmap lmdb:${target}` : action === 'postalias' ? `postalias lmdb:${target}` : `service ${target} ${action}`;
    return { name, 'ansible.builtin.command': cmd };
  });
  return JSON.stringify([{ name: 'mail server files', hosts: 'mail', gather_facts: false, tasks, handlers }], null, 2);
}

function ansibleSetup(dir: string, host: TestHost): { env: NodeJS.ProcessEnv } {
  writeFileSync(join(dir, 'inventory.ini'), `[mail]\nbench ansible_host=${host.address} ansible_user=root ansible_ssh_private_key_file=${host.keyFile}\n`);
  writeFileSync(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      'inventory = inventory.ini',
      'host_key_checking = True',
      'interpreter_python = /usr/bin/python3',
      'retry_files_enabled = False',
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${host.knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
      `control_path_dir = ${join(dir, 'cp')}`,
      '',
    ].join('\n'),
  );
  return { env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', SSH_AUTH_SOCK: '' } };
}

async function main(): Promise<void> {
  header('1. No-op re-apply: mailrig vs Ansible vs one ssh sha256sum (Debian 12 test host)');
  const ansibleVersion = await ensureAnsible();
  const work = mkdtempSync(join(tmpdir(), 'mailrig-bench-apply-'));
  try {
    await withProvisionedHost('bookworm', 'bench-apply', async ({ host, ws }) => {
      // mailrig: one warm-up, then the timed runs; each must report no changes.
      const applyOnce = async () => {
        const { ms, value } = await timed(() => ws.mailrig(['apply', '--yes']));
        if (value.code !== 0 || !/no changes/.test(value.out)) throw new Error(`apply was not a no-op\n${show(value)}`);
        return ms;
      };
      await applyOnce();
      const mailrig: number[] = [];
      for (let i = 0; i < MAILRIG_RUNS; i++) mailrig.push(await applyOnce());
      log(`mailrig apply: ${mailrig.map(fmtMs).join(', ')}`);

      // The local share of it: rendering into a directory, no host involved.
      const renderRuns: number[] = [];
      const tree = join(work, 'tree');
      for (let i = 0; i < 3; i++) {
        rmSync(tree, { recursive: true, force: true });
        const { ms, value } = await timed(() => ws.mailrig(['render', '--out', tree]));
        if (value.code !== 0) throw new Error(`render failed\n${show(value)}`);
        renderRuns.push(ms);
      }
      const manifest = JSON.parse(readFileSync(join(tree, 'mailrig-manifest.json'), 'utf8')) as ManifestEntry[];

      // Ansible against the same host.
      mustExec(await host.exec('command -v python3 >/dev/null || apt-get install -y python3 >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y python3 >/dev/null)', { timeoutMs: 600_000 }), 'installing python3 on the host');
      const { env } = ansibleSetup(work, host);
      writeFileSync(join(work, 'playbook.yml'), playbook(tree, manifest));
      const ansibleOnce = async () => {
        const { ms, value } = await timed(() => run('ansible-playbook', ['playbook.yml'], { cwd: work, env, maxBuffer: 64 << 20 }));
        const recap = /ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(value.stdout);
        if (!recap || recap[2] !== '0' || recap[4] !== '0') throw new Error(`the playbook was not a no-op:\n${value.stdout.slice(-4000)}`);
        return ms;
      };
      await ansibleOnce();
      const ansible: number[] = [];
      for (let i = 0; i < ANSIBLE_RUNS; i++) ansible.push(await ansibleOnce());
      log(`ansible-playbook: ${ansible.map(fmtMs).join(', ')}`);

      // The floor: one round trip that reads every managed file.
      const sshArgs = ['-i', host.keyFile, '-o', `UserKnownHostsFile=${host.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
        '-o', 'IdentitiesOnly=yes', '-o', 'ControlPath=none', '-F', '/dev/null', `root@${host.address}`, 'sha256sum', ...manifest.map((e) => e.path)];
      const floor: number[] = [];
      await run('ssh', sshArgs, { maxBuffer: 16 << 20 });
      for (let i = 0; i < FLOOR_RUNS; i++) floor.push((await timed(() => run('ssh', sshArgs, { maxBuffer: 16 << 20 }))).ms);

      // Ansible must have left the host as mailrig wants it.
      const after = await ws.mailrig(['plan', '--json']);
      if (after.code !== 0 || (JSON.parse(after.out) as { changes: boolean }).changes) throw new Error(`the host drifted during the benchmark\n${show(after)}`);

      const m = summarize(mailrig);
      const a = summarize(ansible);
      const f = summarize(floor);
      const r = summarize(renderRuns);
      const vsAnsible = a.median / m.median;
      const vsFloor = m.median / f.median;
      process.stdout.write(`${table([
        ['what', 'median (min–max)', 'runs'],
        ['mailrig apply --yes (no changes)', spread(m), String(m.runs.length)],
        [`ansible-playbook (${ansibleVersion}), changed=0`, spread(a), String(a.runs.length)],
        ['ssh host sha256sum <managed files> (floor)', spread(f), String(f.runs.length)],
        ['  for reference: mailrig render --out (local work only)', spread(r), String(r.runs.length)],
      ])}\n\n${table([
        ['ratio', 'measured', 'target'],
        ['Ansible ÷ mailrig', `${vsAnsible.toFixed(1)}×`, `≥ ${TARGET_VS_ANSIBLE}×: ${verdict(vsAnsible >= TARGET_VS_ANSIBLE)}`],
        ['mailrig ÷ floor', `${vsFloor.toFixed(1)}×`, `≤ ${TARGET_VS_FLOOR}×: ${verdict(vsFloor <= TARGET_VS_FLOOR)}`],
      ])}\n\n${manifest.length} managed files. Every run is a new process (Node.js start-up included for mailrig).\n`);
      writeResults('apply-vs-ansible', {
        files: manifest.length,
        ansibleVersion,
        ansibleSettings: 'pipelining on, gather_facts off, ControlPersist 60s (default), one copy task per service with loop',
        mailrig: m,
        ansible: a,
        floor: f,
        renderOnly: r,
        ratios: { ansibleOverMailrig: vsAnsible, mailrigOverFloor: vsFloor },
        targets: { ansibleOverMailrigAtLeast: TARGET_VS_ANSIBLE, mailrigOverFloorAtMost: TARGET_VS_FLOOR },
        met: { vsAnsible: vsAnsible >= TARGET_VS_ANSIBLE, vsFloor: vsFloor <= TARGET_VS_FLOOR },
      });
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
