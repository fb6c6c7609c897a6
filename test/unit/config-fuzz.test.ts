// Fuzzing the config loader: random YAML mutations of a valid mailrig.yaml (test/support/config-fuzz.ts)
// either load or are refused with the loader's ConfigError — never another exception. The batch runs
// in a child process, so that a hang shows as a child that does not finish, not as a stuck test run.
// Seeded and bounded: MAILRIG_FUZZ_SEED and MAILRIG_FUZZ_RUNS choose another batch (the seed is printed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { PROJECT_ROOT } from '../support/fixtures.js';

const SEED = Number(process.env.MAILRIG_FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.MAILRIG_FUZZ_RUNS ?? 400);
/** Four hundred loads take about two seconds; a batch still running after this long is stuck. */
const HANG_MS = 120_000;

it(`config loader: ${RUNS} random mutations of a valid mailrig.yaml load or are refused (seed ${SEED})`, async () => {
  const script = join(PROJECT_ROOT, 'dist/test/support/config-fuzz.js');
  const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [script, String(SEED), String(RUNS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
  process.stdout.write(r.out.split('\n')[0] + '\n');
  assert.notEqual(r.signal, 'SIGKILL', `the batch did not finish within ${HANG_MS / 1000} s (seed ${SEED}): a mutation hangs the loader`);
  assert.equal(r.code, 0, r.out.slice(0, 8000));
  assert.match(r.out, new RegExp(`${RUNS} runs, no crash`));
});
