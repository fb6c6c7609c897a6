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
  };
  if (flags.passwordStdin) {
    if (process.stdin.isTTY) throw new UsageError('--password-stdin: standard input is a terminal; pipe the password in');
    pre.password = await readStdinLine();
    if (pre.password === '') throw new UsageError('--password-stdin: standard input was empty');
  }
  if (flags.nonInteractive) return answersFromFlags(pre);
  if (!process.stdin.isTTY) {
    throw new UsageError('no terminal to ask questions on; use --non-interactive and give the answers as flags');
  }
  return runInterview({ input: process.stdin, output: process.stdout }, pre);
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
