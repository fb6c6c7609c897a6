// mailrig setup: the interview when there is no mailrig.yaml yet, then either the whole provisioning
// (apply over SSH, then the DNS records and next steps) or, with --dry-run, a local render of the
// server and the DNS records, touching no host.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ApplyOptions } from './apply.js';
import { runInit, type InterviewFlags } from './init.js';

export interface SetupFlags extends InterviewFlags, Omit<ApplyOptions, 'config'> {
  dryRun?: boolean;
  out: string;
}

export async function runSetup(flags: SetupFlags): Promise<void> {
  const configPath = resolve(flags.config);
  // A dry run touches no host, not even to ask it about itself.
  if (!existsSync(configPath)) await runInit({ ...flags, probe: !flags.dryRun });
  else process.stdout.write(`using ${flags.config} (delete it or run mailrig init --force to start over)\n`);
  if (flags.dryRun) {
    await (await import('./render.js')).run({ out: flags.out, config: configPath });
  } else {
    await (await import('./apply.js')).runApply({ ...flags, config: configPath });
  }
  process.stdout.write('\nDNS records to publish:\n');
  await (await import('./dns.js')).run({ config: configPath, format: 'table' });
  process.stdout.write(
    [
      '',
      'Next steps:',
      '  - Publish the records above at your DNS provider (or set dns.provider: rfc2136 and run mailrig dns push).',
      `  - Ask your hosting provider to set the PTR (reverse DNS) of each server address to the mail hostname.`,
      `  - Then check them: mailrig dns --check --config ${flags.config}`,
      '',
    ].join('\n'),
  );
}
