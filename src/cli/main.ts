// The mailrig command line: commander program, one lazily imported module per command (so that
// `mailrig --help` loads neither ssh2, acme-client nor the template engine), and the one top-level
// error handler that decides messages and exit codes: 0 ok, 1 runtime failure, 2 bad input.
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, RuntimeError, UsageError, describeOrdinaryFailure } from '../errors.js';

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
    .option('--allow-private-addresses', 'accept private, loopback and link-local server addresses (a lab or test network)')
    .option('--force', 'overwrite an existing mailrig.yaml that has no mailboxes (keys are never regenerated)')
    .addOption(configOption());
}

const WRITERS = new Set([
  // user add and passwd lock themselves, once the password is hashed
  'init', 'setup', 'apply', 'user rm', 'user quota', 'alias add', 'alias rm', 'domain add', 'domain rm',
  'dkim rotate', 'tls roll-key', 'cert renew', 'backup init', 'relay password', 'upgrade', 'failover', 'failback',
]);

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function buildProgram(): Command {
  const program = new Command('mailrig')
    .description('Turn a fresh Debian server into a complete, hardened mail server, and keep it that way.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run mailrig help for the commands)')
    .exitOverride();
  // Commands that change mailrig.yaml or .mailrig/ run whole under the project lock (fs/lock.ts).
  program.hook('preAction', async (_program, action) => {
    const name = commandPath(action);
    if (!WRITERS.has(name)) return;
    const { lockProject } = await import('../fs/lock.js');
    await lockProject(String(action.opts().config ?? 'mailrig.yaml'));
  });

  hostOptions(interviewOptions(program.command('init').description('interview → mailrig.yaml and the key store .mailrig/'))).action(
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
        .option('--yes', 'apply without asking')
        .option('--outbound-target <host:port>', 'where the host tries outbound port 25 before setup ends (repeat; default: big providers\' MX hosts)', collect),
    ),
  ).action(async (opts) => (await import('./setup.js')).runSetup(opts));

  hostOptions(program.command('plan').description('what apply would change on the host (diffs); changes nothing'))
    .option('--json', 'the plan as JSON, for scripts')
    .option('--purge', 'also plan to delete the stored data of optional services mailrig.yaml switches off')
    .option('--host <name>', 'only this host of mailrig.yaml (server.name or a name under servers)')
    .addOption(configOption())
    .action(async (opts) => (await import('./apply.js')).runPlan(opts));

  hostOptions(program.command('apply').description('converge the host to mailrig.yaml, changing only what differs'))
    .option('--yes', 'apply without asking (required without a terminal)')
    .option('--replace-host-keys', "overwrite keys on the host that differ from .mailrig's")
    .option('--host <name>', 'only this host of mailrig.yaml (server.name or a name under servers)')
    .option('--json', 'print a JSON summary instead of the plan and progress')
    .option('--purge', 'also delete the stored data of optional services mailrig.yaml switches off (webmail, dav)')
    .addOption(configOption())
    .action(async (opts) => (await import('./apply.js')).runApply(opts));

  hostOptions(program.command('upgrade').description('upgrade the host in place to a new Debian release (Debian 12 → 13), continuing an interrupted upgrade'))
    .requiredOption('--to <release>', 'the release to upgrade to: debian-13')
    .option('--dry-run', 'run the preflight and print the steps and the expected duration; change nothing')
    .option('--yes', 'upgrade without asking (required without a terminal)')
    .addOption(configOption())
    .action(async (opts) => (await import('./upgrade.js')).runUpgrade(opts));

  hostOptions(program.command('failover').description('make the standby the primary: mailrig.yaml, every host that answers, DNS (rfc2136)'))
    .option('--to <name>', 'the standby to make the primary (its name or host name)')
    .option('--yes', 'fail over without asking (required without a terminal)')
    .addOption(configOption())
    .action(async (opts) => (await import('./failover.js')).runFailover(opts));

  hostOptions(program.command('failback').description('after a failover: a last sync from the current primary, then swap the roles back'))
    .option('--yes', 'fail back without asking (required without a terminal)')
    .addOption(configOption())
    .action(async (opts) => (await import('./failover.js')).runFailback(opts));

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

  // Accounts: mailboxes, aliases and domains are edits of mailrig.yaml (comments kept), validated before writing.
  const accounts = (cmd: Command) =>
    cmd.option('--apply', 'apply the change to the server right away').addOption(configOption());
  const password = (cmd: Command) =>
    cmd
      .option('--password-stdin', 'read the password from standard input')
      .option('--allow-weak', 'accept a password shorter than 12 characters or on the common list');
  const exit = (code: number) => {
    process.exitCode = code;
  };
  const user = program.command('user').description('mailboxes in mailrig.yaml: add, rm, passwd, quota, list');
  password(accounts(user.command('add <address>').description('add a mailbox (asks for its password twice, hidden)')))
    .option('--quota <size>', 'mailbox quota, e.g. 10G (default: mail.default_quota)')
    .option('--send-only', 'may log in and send, receives no mail')
    .option('--alias <list>', 'addresses that deliver here (comma-separated or repeated)', collect)
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, opts) => exit(await (await import('./user.js')).runUserAdd(address, opts)));
  accounts(user.command('rm <address>').description("remove a mailbox from mailrig.yaml (its stored mail stays unless --purge)"))
    .option('--purge', 'also delete its stored mail on the server (at apply; asks to confirm)')
    .option('--yes', 'confirm --purge (and --apply) without asking')
    .action(async (address: string, opts) => exit(await (await import('./user.js')).runUserRm(address, opts)));
  password(accounts(user.command('passwd <address>').description("set a mailbox's password")))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, opts) => exit(await (await import('./user.js')).runUserPasswd(address, opts)));
  accounts(user.command('quota <address> <size>').description("set a mailbox's quota (0 = unlimited, default = mail.default_quota)"))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, size: string, opts) => exit(await (await import('./user.js')).runUserQuota(address, size, opts)));
  accounts(user.command('vacation <address> <state>').description('switch an automatic reply (Sieve vacation) on or off; state: on | off'))
    .option('--subject <text>', 'subject of the reply (default: the current one, else "Out of office")')
    .option('--body-file <file>', 'text of the reply, from a file (- reads standard input)')
    .option('--from <address>', 'From address of the reply (default: the address written to)')
    .option('--until <date>', 'last day replies go out, YYYY-MM-DD')
    .option('--days <n>', 'days before the same sender gets another reply (default 7)')
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, state: string, opts) => exit(await (await import('./vacation.js')).runUserVacation(address, state, opts)));
  const appPassword = user.command('app-password').description('revocable passwords for one device or program each: add, list, rm');
  accounts(appPassword.command('add <address>').description('make an app password; it is shown once, only its hash is kept'))
    .option('--name <name>', 'what uses it, e.g. phone (a-z, 0-9, _ and -)')
    .option('--only <services>', `services it logs in to, comma-separated: imap, pop3, smtp, sieve, dav (default all)`)
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, opts) => exit(await (await import('./app-password.js')).runAppPasswordAdd(address, opts)));
  appPassword
    .command('list <address>')
    .description("a mailbox's app passwords (name, day made, services) and what its main password is for")
    .option('--json', 'as JSON, for scripts')
    .addOption(configOption())
    .action(async (address: string, opts) => exit(await (await import('./app-password.js')).runAppPasswordList(address, opts)));
  accounts(appPassword.command('rm <address> <name>').description('revoke an app password (at the next apply)'))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, name: string, opts) => exit(await (await import('./app-password.js')).runAppPasswordRm(address, name, opts)));
  hostOptions(user.command('list'))
    .description('the mailboxes with how full each is and who hit a sending limit in the last day (asked from the host in one round trip), as a table or --json')
    .option('--json', 'as JSON, for scripts')
    .option('--domain <domain>', 'only this domain (Unicode accepted)')
    .option('--no-usage', 'do not ask the host how full the mailboxes are')
    .addOption(configOption())
    .action(async (opts) => exit(await (await import('./user.js')).runUserList(opts)));

  hostOptions(program.command('migrate [address]'))
    .description('copy a mailbox from another IMAP server into this one, on the host (resumable, never twice)')
    .option('--from <url>', 'the old server: imaps://host[:port] (or imap://host[:port] for STARTTLS)')
    .option('--user <login>', 'the login on the old server')
    .option('--password-stdin', "read the old server's password from standard input (with --all: one line per row)")
    .option('--all <file>', 'CSV of address,login rows: copy each in turn')
    .option('--ca-file <file>', "also trust this CA (PEM) for the old server's certificate")
    .addOption(configOption())
    .action(async (address: string | undefined, opts) => exit(await (await import('./migrate.js')).runMigrate(address, opts)));

  const alias = program.command('alias').description('aliases in mailrig.yaml: add, rm, list');
  accounts(alias.command('add <address> <targets...>').description('make an address deliver to mailboxes or other addresses (adds to an existing alias)'))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, targets: string[], opts) => exit(await (await import('./alias.js')).runAliasAdd(address, targets, opts)));
  accounts(alias.command('rm <address>').description('remove an alias (standalone, or one a mailbox owns)'))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (address: string, opts) => exit(await (await import('./alias.js')).runAliasRm(address, opts)));
  alias
    .command('list')
    .description('every alias and catch-all, as a table or --json')
    .option('--json', 'as JSON, for scripts')
    .addOption(configOption())
    .action(async (opts) => exit(await (await import('./alias.js')).runAliasList(opts)));

  const relay = program.command('relay').description('relays (smarthosts) for outbound mail: password, list');
  relay
    .command('password <host>')
    .description("store a relay's password in .mailrig/ (typed hidden, or piped in); mailrig apply puts it on the server")
    .option('--password-stdin', 'read the password from standard input')
    .addOption(configOption())
    .action(async (host: string, opts) => exit(await (await import('./relay.js')).runRelayPassword(host, opts)));
  relay
    .command('list')
    .description('the relays and the route each domain\'s outbound mail takes')
    .option('--json', 'as JSON, for scripts')
    .addOption(configOption())
    .action(async (opts) => exit(await (await import('./relay.js')).runRelayList(opts)));

  const domain = program.command('domain').description('mail domains in mailrig.yaml: add, rm, list');
  accounts(domain.command('add <domain>').description('add a mail domain, make its DKIM keys, print the DNS records to add'))
    .option('--yes', 'with --apply: apply without asking')
    .action(async (name: string, opts) => exit(await (await import('./domain.js')).runDomainAdd(name, opts)));
  accounts(domain.command('rm <domain>').description('remove a mail domain (its DKIM keys stay in .mailrig/)'))
    .option('--force', 'remove it even though it still has mailboxes (their mail stays on the server)')
    .option('--yes', 'with --apply: apply without asking')
    .action(async (name: string, opts) => exit(await (await import('./domain.js')).runDomainRm(name, opts)));
  domain
    .command('list')
    .description('the mail domains with their DKIM selectors, as a table or --json')
    .option('--json', 'as JSON, for scripts')
    .addOption(configOption())
    .action(async (opts) => exit(await (await import('./domain.js')).runDomainList(opts)));

  program
    .command('dkim')
    .description('DKIM key rotation, staged and gated on DNS')
    .command('rotate <action> [domain]')
    .description('start | switch | finish | status: new keys published first, switched when DNS has them, old ones retired after a grace period')
    .option('--force', 'switch without DNS showing the new keys, or finish before the grace period ends')
    .option('--resolver <ip[:port]>', 'switch: ask this resolver instead of the system one')
    .option('--grace <days>', 'switch: days the old keys stay published (default 7)')
    .option('--json', 'status: as JSON')
    .addOption(configOption())
    .action(async (action: string, name: string | undefined, opts) => exit(await (await import('./dkim.js')).runRotate(action, name, opts)));

  // TLS certificates over ACME: consent to the CA's terms at apply, status and renewal, DANE key rollover.
  const tlsExit = (code: number) => {
    process.exitCode = code;
  };
  for (const name of ['setup', 'apply']) {
    program.commands
      .find((c) => c.name() === name)
      ?.option('--accept-acme-terms', "accept the ACME CA's terms (Let's Encrypt's Subscriber Agreement) without asking");
  }
  const cert = program.command('cert').description('the TLS certificate: status, renew');
  hostOptions(cert.command('status').description('installed certificate, what ports 25/465/587/993/443 serve, whether TLSA matches; exit 1 if not all agree'))
    .option('--json', 'as JSON, for scripts')
    .option('--resolver <ip[:port]>', 'ask this resolver for the TLSA record instead of the system one')
    .addOption(configOption())
    .action(async (opts) => tlsExit(await (await import('./cert.js')).runCertStatus(opts)));
  hostOptions(cert.command('renew').description("run the host's renewal agent now (it renews only when due, unless --force)"))
    .option('--force', 'renew even though the certificate is not due')
    .addOption(configOption())
    .action(async (opts) => tlsExit(await (await import('./cert.js')).runCertRenew(opts)));
  const tls = program.command('tls').description('TLS key management');
  hostOptions(tls.command('roll-key').description('switch to the pre-published next key (TLSA must be visible), make a new next key, apply'))
    .option('--force', "switch although DNS does not show the next key's TLSA record")
    .option('--resolver <ip[:port]>', 'ask this resolver instead of the system one')
    .option('--yes', 'apply without asking (required without a terminal)')
    .option('--accept-acme-terms', "accept the ACME CA's terms without asking")
    .addOption(configOption())
    .action(async (opts) => tlsExit(await (await import('./tls.js')).runRollKey(opts)));

  // Checks of the host, DNS, TLS and deliverability from outside and over SSH, each with its fix.
  hostOptions(program.command('check').description('status checks — host, DNS, TLS, deliverability — with a fix for each problem; exit 1 when any fails'))
    .option('--json', 'results as JSON (stable; documented in src/check/format.ts)')
    .option('--changes', 'print only what changed since the previous run (nothing when nothing did: for cron)')
    .option('--resolver <ip[:port]>', 'ask this resolver instead of the system one')
    .option('--outside-only', 'skip the inside view over SSH')
    .option('--outbound-target <host:port>', 'where the host tries outbound port 25 (repeat; default: big providers\' MX hosts)', collect)
    .addOption(configOption())
    .action(async (opts) => {
      process.exitCode = await (await import('./check.js')).runCheck(opts);
    });

  // Reports that arrived at the published rua addresses, read from their mailboxes (reads only).
  hostOptions(program.command('reports').description('DMARC aggregate and TLS-RPT reports received at the rua addresses, per domain'))
    .option('--since <period>', 'reports received in this period (7d, 12h, 2w) or since a day YYYY-MM-DD', '7d')
    .option('--json', 'as JSON, for scripts (stable)')
    .option('--domain <domain>', 'only reports about this mail domain (Unicode accepted)')
    .addOption(configOption())
    .action(async (opts) => {
      process.exitCode = await (await import('./reports.js')).runReports(opts);
    });

  // Backups with restic on the host: init (mailrig.yaml + password in .mailrig + apply), status, now; restore a mailbox.
  const backupExit = (code: number) => {
    process.exitCode = code;
  };
  const backup = program.command('backup').description('daily restic backups on the host: init, status, now');
  hostOptions(backup.command('init').description('set the repository in mailrig.yaml, make its password in .mailrig, apply (installs restic, schedules the daily backup, restic init)'))
    .requiredOption('--repo <repository>', 'a local path on the host, sftp:user@host:/path or s3:https://host/bucket (S3 keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)')
    .option('--yes', 'apply without asking (required without a terminal)')
    .option('--no-apply', 'only edit mailrig.yaml and .mailrig; mailrig apply does the rest')
    .addOption(configOption())
    .action(async (opts) => backupExit(await (await import('./backup.js')).runBackupInit(opts)));
  hostOptions(backup.command('status').description('the newest snapshot: time, age, size; exit 1 (a warning) when older than 2 days or missing'))
    .option('--json', 'as JSON, for scripts')
    .addOption(configOption())
    .action(async (opts) => backupExit(await (await import('./backup.js')).runBackupStatus(opts)));
  hostOptions(backup.command('now').description('run the backup on the host now, then show its status'))
    .option('--json', 'the status afterwards as JSON')
    .addOption(configOption())
    .action(async (opts) => backupExit(await (await import('./backup.js')).runBackupNow(opts)));
  hostOptions(program.command('restore').description("put a mailbox's mail back from a backup; other mailboxes and newer mail stay as they are"))
    .requiredOption('--mailbox <address>', 'the mailbox to restore')
    .option('--snapshot <id>', 'the snapshot (default: the newest)')
    .option('--json', 'the result as JSON')
    .addOption(configOption())
    .action(async (opts) => backupExit(await (await import('./backup.js')).runRestore(opts)));

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
  } finally {
    (await import('../fs/lock.js')).releaseAll();
  }
}

/** What the CLI says about an error that ended a command (on `write`, stderr by default), and its exit code. */
export function report(e: unknown, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (e instanceof CommanderError) {
    // Commander has printed its own message (or the help/version) already.
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof ConfigError) {
    write(`mailrig: ${e.format()}\n`);
    return e.exitCode;
  }
  if (e instanceof UsageError) {
    write(`mailrig: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof RuntimeError) {
    write(`mailrig: ${e.message}\n${e.detail ? `${e.detail}\n` : ''}`);
    return e.exitCode;
  }
  const ordinary = describeOrdinaryFailure(e);
  if (ordinary) {
    write(`mailrig: ${ordinary.message}\n`);
    return ordinary.exitCode;
  }
  if (e instanceof Error && e.name === 'ExitPromptError') {
    write('mailrig: interrupted; nothing was written\n');
    return 130;
  }
  write(
    `mailrig: unexpected error — this is a bug in mailrig, please report it:\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  return 70;
}
