// The mailrig command line: commander program, one lazily imported module per command (so that
// `mailrig --help` loads neither ssh2, acme-client nor the template engine), and the one top-level
// error handler that decides messages and exit codes: 0 ok, 1 runtime failure, 2 bad input.
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, RuntimeError, UsageError } from '../errors.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function configOption(): Option {
  return new Option('-c, --config <file>', 'path of mailrig.yaml').default('mailrig.yaml');
}

function hostOptions(cmd: Command): Command {
  return cmd
    .option('--accept-new-host-key', "trust the host's SSH key if known_hosts does not have it yet (it is then recorded)")
    .option('--identity <file>', 'private key to log in with (tried before ~/.ssh/config and the defaults)')
    .option('--known-hosts <file>', 'known_hosts file to check host keys against (default ~/.ssh/known_hosts)');
}

function interviewOptions(cmd: Command): Command {
  return cmd
    .option('--non-interactive', 'take every answer from flags; fail naming the first missing one')
    .option('--hostname <fqdn>', 'mail server hostname (default: mail.<first domain>)')
    .option('--domain <domain>', 'a mail domain (repeat for more)', collect)
    .option('--ipv4 <address>', "the server's public IPv4 address")
    .option('--ipv6 <address>', "the server's public IPv6 address (optional)")
    .option('--ssh <target>', 'user@host[:port], a Host alias from ~/.ssh/config, or "local"')
    .addOption(new Option('--release <release>', 'target release').choices(['debian-12', 'debian-13']))
    .option('--admin-email <address>', 'ACME account and report address')
    .option('--mailbox <address>', 'the first mailbox (full address)')
    .option('--password-stdin', "read the first mailbox's password from standard input")
    .option('--acme <choice>', 'letsencrypt | letsencrypt-staging | self-signed | an ACME directory URL')
    .option('--force', 'overwrite an existing mailrig.yaml (keys are never regenerated)')
    .addOption(configOption());
}

export function buildProgram(): Command {
  const program = new Command('mailrig')
    .description('Turn a fresh Debian server into a complete, hardened mail server, and keep it that way.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run mailrig help for the commands)')
    .exitOverride();

  interviewOptions(program.command('init').description('interview → mailrig.yaml and the key store .mailrig/')).action(
    async (opts) => {
      await (await import('./init.js')).runInit(opts);
    },
  );

  hostOptions(
    interviewOptions(
      program
        .command('setup')
        .description('init if there is no mailrig.yaml, then provision the server and print the DNS records')
        .option('--dry-run', 'render the server and print the DNS records without touching a host')
        .option('--out <dir>', 'with --dry-run: where to write the rendered server', 'mailrig-render')
        .option('--yes', 'apply without asking'),
    ),
  ).action(async (opts) => (await import('./setup.js')).runSetup(opts));

  hostOptions(program.command('plan').description('what apply would change on the host (diffs); changes nothing'))
    .addOption(configOption())
    .action(async (opts) => (await import('./apply.js')).runPlan(opts));

  hostOptions(program.command('apply').description('converge the host to mailrig.yaml, changing only what differs'))
    .option('--yes', 'apply without asking (required without a terminal)')
    .option('--replace-host-keys', "overwrite keys on the host that differ from .mailrig's")
    .addOption(configOption())
    .action(async (opts) => (await import('./apply.js')).runApply(opts));

  program
    .command('render')
    .description('write every managed file, as it will land on the host, under a directory')
    .requiredOption('--out <dir>', 'the directory to write')
    .addOption(configOption())
    .action(async (opts) => (await import('./render.js')).run(opts));

  const dns = program
    .command('dns')
    .description('the DNS records to publish (table, BIND zone, JSON); --check compares live DNS')
    .addOption(new Option('--format <format>', 'output format (default table; --zone implies bind)').choices(['table', 'bind', 'json']))
    .option('--domain <domain>', 'only the records of this zone (Unicode accepted)')
    .option('--zone <zone>', 'with bind: a complete zone file for this zone, SOA and NS included')
    .option('--ns <name>', 'with --zone: a name server of the zone (repeat; marked placeholders otherwise)', collect)
    .option('--serial <n>', 'with --zone: SOA serial (default today as YYYYMMDD00)')
    .option('--check', 'look up every record in live DNS and compare; exit 1 when a required one is not ok')
    .option('--json', 'with --check: findings as JSON')
    .option('--resolver <ip[:port]>', 'with --check: ask this resolver instead of the system one')
    .addOption(configOption())
    .action(async (opts) => {
      process.exitCode = await (await import('./dns.js')).run(opts);
    });
  dns
    .command('push')
    .description('send the records to dns.server (RFC 2136, TSIG hmac-sha256); shows the changes first')
    .option('--domain <domain>', 'only this zone')
    .option('--yes', 'push without asking (required when stdin is not a terminal)')
    .option('--dry-run', 'show the changes and stop')
    .addOption(configOption())
    .action(async (opts, cmd: Command) => {
      process.exitCode = await (await import('./dns.js')).runPush({ ...cmd.optsWithGlobals(), ...opts });
    });

  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  if (e instanceof CommanderError) {
    // Commander has printed its own message (or the help/version) already.
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`mailrig: ${e.format()}\n`);
    return e.exitCode;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`mailrig: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof RuntimeError) {
    process.stderr.write(`mailrig: ${e.message}\n${e.detail ? `${e.detail}\n` : ''}`);
    return e.exitCode;
  }
  if (e instanceof Error && e.name === 'ExitPromptError') {
    process.stderr.write('mailrig: interrupted; nothing was written\n');
    return 130;
  }
  process.stderr.write(
    `mailrig: unexpected error — this is a bug in mailrig, please report it:\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  return 70;
}
