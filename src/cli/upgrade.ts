// mailrig upgrade --to debian-13: the pipeline (pipeline/upgrade.ts) with the operator's terminal:
// the preflight and the steps printed, progress per step, the time each took.
import { runUpgradePipeline, type UpgradeOptions } from '../pipeline/upgrade.js';
import { askYesNo } from './confirm.js';
import { progress } from './progress.js';

const out = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`mailrig: warning: ${line}\n`);

export async function runUpgrade(opts: UpgradeOptions): Promise<void> {
  const steps = progress();
  let result;
  try {
    result = await runUpgradePipeline(opts, {
      confirm: (q) => askYesNo(q),
      interactive: process.stdin.isTTY === true && !opts.yes,
      out,
      warn,
      step: (m) => steps.step(m),
    });
    steps.end(true);
  } catch (e) {
    steps.end(false);
    throw e;
  }
  if (!result) return;
  const times = Object.entries(result.seconds).map(([step, s]) => `${step} ${s}s`).join(', ');
  out(`upgraded to ${opts.to} in ${result.totalSeconds}s (${times}); server.release is now ${opts.to} in ${opts.config}`);
}
