// mailrig init: the interview → mailrig.yaml (commented) and the key store .mailrig/ beside it.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SCHEMA_FILE_NAME, jsonSchemaText } from '../config/json-schema.js';
import { parseConfig } from '../config/load.js';
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

export async function readStdinLine(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
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
    pre.password = await readStdinLine();
    if (pre.password === '') throw new UsageError('--password-stdin: standard input was empty');
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

/** Runs the interview and writes mailrig.yaml and .mailrig/; returns the config path. */
export async function runInit(flags: InterviewFlags): Promise<string> {
  const configPath = resolve(flags.config);
  if (existsSync(configPath) && !flags.force) {
    throw new UsageError(`${configPath}: already exists; use --force to replace it (keys in .mailrig/ are kept)`);
  }
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
  writeFileSync(configPath, text, { mode: 0o644 });
  writeFileSync(join(dirname(configPath), SCHEMA_FILE_NAME), jsonSchemaText());
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
