// Runs the interview: interactively through inquirer (streams injectable, for tests), or from flags
// for --non-interactive, which never waits for input and names the first missing answer.
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import { toAsciiDomain } from '../config/syntax.js';
import type { Guesses } from './probe.js';
import { parseList, QUESTIONS, validateAcme, type Answers, type Question } from './questions.js';

/** Flag values as commander hands them over (strings, and a list for --domain). */
export type Prefilled = Partial<Record<Exclude<keyof Answers, 'domains' | 'allowPrivateAddresses'>, string>> & {
  domains?: string[];
  allowPrivateAddresses?: boolean | undefined;
};

export interface InterviewIO {
  input: Readable;
  output: Writable;
}

function set(answers: Partial<Answers>, q: Question, value: string): void {
  if (q.name === 'domains') answers.domains = parseList(value);
  else if (q.name === 'ipv6') answers.ipv6 = value === '' ? undefined : value;
  else (answers as Record<string, string>)[q.name] = value;
}

function prefilledValue(q: Question, pre: Prefilled): string | undefined {
  if (q.name === 'domains') return pre.domains?.length ? pre.domains.join(',') : undefined;
  if (q.name === 'allowPrivateAddresses') return undefined;
  return pre[q.name];
}

/** The default offered for a question: what the probed host said, else the guess from earlier answers. */
function defaultFor(q: Question, answers: Partial<Answers>, guesses: Guesses): string | undefined {
  const probed = q.name in guesses ? guesses[q.name as keyof Guesses] : undefined;
  // The host's own name only where it is inside a mail domain; a provider's name (vps123.hoster.net) is not the MX.
  const fits =
    q.name !== 'hostname' ||
    (answers.domains ?? []).some((d) => probed?.endsWith(`.${toAsciiDomain(d) ?? d}`));
  return (fits ? probed : undefined) ?? q.defaultFrom?.(answers);
}

/** Every answer from flags; throws a UsageError naming the first missing or invalid flag. */
export function answersFromFlags(pre: Prefilled, guesses: Guesses = {}): Answers {
  const answers: Partial<Answers> = pre.allowPrivateAddresses ? { allowPrivateAddresses: true } : {};
  for (const q of QUESTIONS) {
    const value = prefilledValue(q, pre) ?? defaultFor(q, answers, guesses);
    if (value === undefined) {
      if (q.optional) continue;
      throw new UsageError(
        q.name === 'password'
          ? '--non-interactive needs --password-stdin (the first mailbox password, on standard input)'
          : `--non-interactive needs ${q.flag}`,
      );
    }
    const reason = q.name === 'acme' ? validateAcme(value) : q.validate(value, answers);
    if (reason) throw new UsageError(`${q.flag}: "${q.name === 'password' ? '…' : value}" ${reason}`);
    set(answers, q, value);
  }
  return answers as Answers;
}

/** Asks every question not answered by a flag; a bad answer is asked again with the reason. */
export async function runInterview(io: InterviewIO, pre: Prefilled = {}, guesses: Guesses = {}): Promise<Answers> {
  const { default: inquirer } = await import('inquirer');
  const prompt = inquirer.createPromptModule({ input: io.input, output: io.output });
  const ask = async (question: object): Promise<string> => {
    const result = (await prompt([{ ...question, name: 'value' }] as never)) as { value: unknown };
    return String(result.value ?? '').trim();
  };
  const answers: Partial<Answers> = pre.allowPrivateAddresses ? { allowPrivateAddresses: true } : {};
  for (const q of QUESTIONS) {
    const given = prefilledValue(q, pre);
    if (given !== undefined) {
      const reason = q.name === 'acme' ? validateAcme(given) : q.validate(given, answers);
      if (reason) throw new UsageError(`${q.flag}: "${given}" ${reason}`);
      set(answers, q, given);
      continue;
    }
    const validate = (v: string) => q.validate(String(v).trim(), answers) ?? true;
    let value: string;
    if (q.kind === 'password') {
      value = await askPasswordTwice(ask, q, validate, io.output);
    } else if (q.kind === 'choice') {
      value = await ask({
        type: 'select',
        message: q.message,
        choices: (q.choices ?? []).map((c) => ({ value: c.value, name: c.label })),
        default: defaultFor(q, answers, guesses),
      });
      if (q.name === 'acme' && value === 'custom') {
        value = await ask({ type: 'input', message: 'ACME directory URL (https://…)', validate: (v: string) => validateAcme(v.trim()) ?? true });
      }
    } else {
      value = await ask({ type: 'input', message: q.message, default: defaultFor(q, answers, guesses), validate });
    }
    set(answers, q, value);
  }
  return answers as Answers;
}

async function askPasswordTwice(
  ask: (question: object) => Promise<string>,
  q: Question,
  validate: (v: string) => string | true,
  output: Writable,
): Promise<string> {
  for (;;) {
    const first = await ask({ type: 'password', mask: '*', message: q.message, validate });
    const second = await ask({ type: 'password', mask: '*', message: 'The same password again' });
    if (first === second) return first;
    output.write('The two passwords differ; type it again.\n');
  }
}
