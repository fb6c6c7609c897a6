// A knotd serving one zone file on ADDRESS:53, for a test host to use as its resolver (resolv.conf
// cannot name a port). Kept here rather than in test/support so that the benchmarks depend only on
// what they own. Needs the knot package (knotd, kdig).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ZoneServer {
  stop(): Promise<void>;
}

export async function serveZone(origin: string, text: string, address: string): Promise<ZoneServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-bench-knot-'));
  writeFileSync(join(dir, 'zone'), text);
  writeFileSync(
    join(dir, 'knot.conf'),
    [
      'server:',
      `  rundir: "${dir}"`,
      `  listen: ${address}@53`,
      'database:',
      `  storage: "${dir}"`,
      'log:',
      '  - target: stderr',
      '    any: warning',
      'zone:',
      `  - domain: "${origin}"`,
      `    file: "${join(dir, 'zone')}"`,
      '',
    ].join('\n'),
  );
  let log = '';
  const child = spawn('/usr/sbin/knotd', ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    const r = await run('/usr/bin/kdig', [`@${address}`, '+short', '+timeout=1', '+retry=0', origin, 'SOA']).catch(() => undefined);
    if (r?.stdout.trim()) return { stop };
    if (child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  await stop();
  throw new Error(`knotd on ${address}:53 did not answer:\n${log}`);
}
