// npm run bench [-- NAME…]: every benchmark in turn, each in a process of its own (a failure in one
// does not stop the others; each stops its own test hosts). Names: startup, render-scale, cli-scale,
// apply-vs-ansible, memory, throughput. Exit 1 when any benchmark failed (not when a target is
// missed: targets are reported, never asserted).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ALL = ['startup', 'render-scale', 'cli-scale', 'apply-vs-ansible', 'memory', 'throughput'];
const HERE = dirname(fileURLToPath(import.meta.url));

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, `${name}.js`)], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !ALL.includes(n));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${ALL.join(', ')}\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0) process.stderr.write('note: apply-vs-ansible, memory and throughput start test hosts and need root\n');
const results: Array<[string, number, number]> = [];
for (const name of asked.length ? asked : ALL) {
  const start = Date.now();
  const code = await runOne(name);
  results.push([name, code, (Date.now() - start) / 1000]);
}
process.stdout.write('\n== benchmarks run\n');
for (const [name, code, s] of results) process.stdout.write(`${name.padEnd(18)} ${code === 0 ? 'done' : `FAILED (exit ${code})`}  ${s.toFixed(0)} s\n`);
process.exitCode = results.some(([, code]) => code !== 0) ? 1 : 0;
