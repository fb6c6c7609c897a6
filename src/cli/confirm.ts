// The one yes/no question commands ask before they change something for good: applying a plan,
// pushing DNS changes, purging mail, trusting a new host key, accepting the CA's terms. No is the
// default. It reads and writes the streams it is given (a terminal's by default), so tests drive it.
import type { Readable, Writable } from 'node:stream';

export interface PromptStreams {
  input: Readable;
  output: Writable;
}

export async function askYesNo(question: string, streams: PromptStreams = { input: process.stdin, output: process.stdout }): Promise<boolean> {
  const { default: inquirer } = await import('inquirer');
  const prompt = inquirer.createPromptModule({ input: streams.input, output: streams.output });
  const { ok } = (await prompt([{ type: 'confirm', name: 'ok', message: question, default: false }] as never)) as { ok: unknown };
  return ok === true;
}
