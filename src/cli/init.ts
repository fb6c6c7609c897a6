// mailrig init: the interview → mailrig.yaml (commented) and the key store .mailrig/ beside it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SCHEMA_FILE_NAME, jsonSchemaText } from '../config/json-schema.js';
import { parseConfig, parseYaml } from '../config/load.js';
import { writeAtomic } from '../fs/atomic.js';
import { toAsciiDomain } from '../config/syntax.js';
import { initialConfigText } from '../config/write.js';
import { UsageError } from '../errors.js';
import { hashPassword } from '../keys/password.js';
import { ensureKeys, keyDirFor } from '../keys/store.js';
import type { Answers } from '../interview/questions.js';
import { PROBE_COMMAND, parseProbe, type Guesses } from '../interview/probe.js';
import { answersFromFlags, runInterview, type Prefilled } from '../interview/runner.js';

export interface InterviewFlags {
  config: string;
  nonInteractive?: boolean;
  force?: boolean;
  hostname?: string;
  domain?: string[];
  ipv4?: string;
  ipv6?: string;
  ssh?: string;
  release?: string;
  adminEmail?: string;
  mailbox?: string;
  passwordStdin?: boolean;
  acme?: string;
  /** A lab or test network: private server addresses accepted. */
  allowPrivateAddresses?: boolean;
  /** Ask the server given by --ssh for its addresses, name and release, as defaults (unless false). */
  probe?: boolean;
  acceptNewHostKey?: boolean;
  identity?: string;
  knownHosts?: string;
}

/** The most a password read from standard input may be: a passphrase fits many times over. */
export const MAX_PASSWORD_BYTES = 4096;

/**
 * The password piped to --password-stdin, exactly as given: one line break (\n or \r\n) may end it
 * and is not part of it; spaces are kept; a second line, an empty input or more than
 * MAX_PASSWORD_BYTES are refused (UsageError) rather than guessed at.
 */
export async function readStdinPassword(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = Buffer.from(chunk as Buffer);
    size += b.length;
    if (size > MAX_PASSWORD_BYTES + 2) {
      throw new UsageError(`--password-stdin: standard input holds more than ${MAX_PASSWORD_BYTES} bytes; a password is one line, at most that long`);
    }
    chunks.push(b);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError('--password-stdin: standard input is not UTF-8 text');
  }
  const password = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (password === '') throw new UsageError('--password-stdin: standard input was empty');
  if (/[\r\n]/.test(password)) {
    throw new UsageError('--password-stdin: standard input has more than one line; give the password alone, on one line (one line break may end it)');
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new UsageError(`--password-stdin: the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  return password;
}

async function collectAnswers(flags: InterviewFlags): Promise<Answers> {
  const pre: Prefilled = {
    domains: flags.domain,
    hostname: flags.hostname,
    ipv4: flags.ipv4,
    ipv6: flags.ipv6,
    ssh: flags.ssh,
    release: flags.release,
    adminEmail: flags.adminEmail,
    mailbox: flags.mailbox,
    acme: flags.acme,
    allowPrivateAddresses: flags.allowPrivateAddresses,
  };
  if (flags.passwordStdin) {
    if (process.stdin.isTTY) throw new UsageError('--password-stdin: standard input is a terminal; pipe the password in');
    pre.password = await readStdinPassword();
  }
  if (!flags.nonInteractive && !process.stdin.isTTY) {
    throw new UsageError('no terminal to ask questions on; use --non-interactive and give the answers as flags');
  }
  const guesses = flags.probe !== false && flags.ssh ? await probe(flags.ssh, flags) : {};
  if (flags.nonInteractive) return answersFromFlags(pre, guesses);
  return runInterview({ input: process.stdin, output: process.stdout }, pre, guesses);
}

/** What the server says about itself; nothing (and a note) when it cannot be reached yet. */
async function probe(target: string, flags: InterviewFlags): Promise<Guesses> {
  const { openTarget } = await import('./apply.js');
  try {
    const host = await openTarget(target, flags);
    try {
      const r = await host.exec(PROBE_COMMAND);
      const guesses = parseProbe(r.stdout);
      const found = Object.entries(guesses).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stderr.write(`asked ${host.target} about itself${found ? `: ${found}` : ''}\n`);
      return guesses;
    } finally {
      await host.close();
    }
  } catch (e) {
    process.stderr.write(`could not reach ${target} to fill in its details (${(e as Error).message}); asking instead\n`);
    return {};
  }
}

/**
 * --force replaces the settings, but the mailboxes of the file it replaces (their password hashes
 * are nowhere else) are never dropped without the operator having moved the file away first.
 */
function refuseToDropMailboxes(configPath: string): void {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(configPath, 'utf8')).doc.toJS({ maxAliasCount: 100 });
  } catch {
    return; // unreadable or not YAML: nothing in it can be kept anyway
  }
  const domains = (data as { domains?: unknown } | null)?.domains;
  if (typeof domains !== 'object' || domains === null) return;
  const addresses = Object.entries(domains as Record<string, unknown>).flatMap(([domain, d]) => {
    const mailboxes = (d as { mailboxes?: unknown } | null)?.mailboxes;
    return typeof mailboxes === 'object' && mailboxes !== null ? Object.keys(mailboxes).map((local) => `${local}@${domain}`) : [];
  });
  if (addresses.length === 0) return;
  const shown = addresses.length > 5 ? `${addresses.slice(0, 5).join(', ')} and ${addresses.length - 5} more` : addresses.join(', ');
  throw new UsageError(
    `${configPath}: has ${addresses.length} mailbox${addresses.length === 1 ? '' : 'es'} (${shown}) that init --force would delete ` +
      `with their passwords; nothing was changed.\n  To change it, use mailrig domain add|rm and mailrig user add|rm; ` +
      `to start over anyway, move it away first (mv ${configPath} ${configPath}.old) and run mailrig init again`,
  );
}

/** Runs the interview and writes mailrig.yaml and .mailrig/; returns the config path. */
export async function runInit(flags: InterviewFlags): Promise<string> {
  const configPath = resolve(flags.config);
  if (existsSync(configPath) && !flags.force) {
    throw new UsageError(`${configPath}: already exists; use --force to replace it (keys in .mailrig/ are kept)`);
  }
  if (existsSync(configPath)) refuseToDropMailboxes(configPath);
  const answers = await collectAnswers(flags);
  const mailboxAt = answers.mailbox.lastIndexOf('@');
  const mailboxDomain = toAsciiDomain(answers.mailbox.slice(mailboxAt + 1));
  const typedDomain = answers.domains.find((d) => toAsciiDomain(d) === mailboxDomain) ?? answers.domains[0] ?? '';
  const text = initialConfigText({
    ...answers,
    mailbox: {
      address: `${answers.mailbox.slice(0, mailboxAt)}@${typedDomain}`,
      passwordHash: await hashPassword(answers.password),
    },
  });
  // The text must load cleanly before anything is written.
  const { config } = parseConfig(text, configPath);
  const keyDir = keyDirFor(configPath);
  const created = await ensureKeys(keyDir, {
    domains: config.domains.map((d) => d.name),
    hostname: config.server.hostname,
  });
  // Keys first, then the config that needs them: a run stopped anywhere leaves a project that loads
  // (or none), and running init again finishes it.
  writeAtomic(join(dirname(configPath), SCHEMA_FILE_NAME), jsonSchemaText());
  writeAtomic(configPath, text, 0o644);
  const rel = (p: string) => relative(process.cwd(), p) || p;
  process.stdout.write(
    [
      `wrote ${rel(configPath)} and ${rel(join(dirname(configPath), SCHEMA_FILE_NAME))}`,
      created.length
        ? `created in ${rel(keyDir)}/: ${created.join(', ')}`
        : `kept the existing keys in ${rel(keyDir)}/`,
      'next: `mailrig dns` prints the records to publish; `mailrig setup --dry-run` renders the server',
      '',
    ].join('\n'),
  );
  return configPath;
}
