// The mailrig CLI run in this process: the same entry as bin/mailrig.js (main: the commander program
// and the one top-level handler that turns errors into messages and exit codes), with its working
// directory, standard input, environment and output swapped in for the run. For tests that run many
// commands that end before touching a host: starting node for each costs far more than the command.
//
// Only what the command writes is captured: writes from any other asynchronous context (the test
// runner reporting meanwhile) go through untouched. Runs are serialised, since the working
// directory is the process's own.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

interface Capture {
  out: string;
  err: string;
}

const capture = new AsyncLocalStorage<Capture>();
let hooked = false;

/** Sends this stream's writes made inside a capture to it, and all others on as before. */
function hook(stream: NodeJS.WriteStream, key: keyof Capture): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const c = capture.getStore();
    if (!c) return write(chunk, ...rest);
    c[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const done = rest.find((r): r is () => void => typeof r === 'function');
    if (done) queueMicrotask(done);
    return true;
  }) as typeof stream.write;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * `mailrig <args>` in `cwd` with `input` on standard input (a pipe, not a terminal) and `env` added
 * to the environment. A run still going after `timeoutMs` (it reached for a host or the network
 * instead of refusing) resolves with code null.
 */
export function mailrigInProcess(args: string[], cwd: string, input = '', env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  const run = queue.then(() => runOne(args, cwd, input, env, timeoutMs));
  queue = run.catch(() => undefined);
  return run;
}

async function runOne(args: string[], cwd: string, input: string, env: Record<string, string>, timeoutMs: number): Promise<CliResult> {
  if (!hooked) {
    hook(process.stdout, 'out');
    hook(process.stderr, 'err');
    hooked = true;
  }
  const here = process.cwd();
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
  const savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const c: Capture = { out: '', err: '' };
  let timer: NodeJS.Timeout | undefined;
  process.chdir(cwd);
  Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from(input)]), configurable: true, writable: true });
  Object.assign(process.env, env);
  try {
    const code = await capture.run(c, () =>
      Promise.race([
        main(['node', 'mailrig', ...args]),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), timeoutMs);
        }),
      ]),
    );
    return { code, out: c.out, err: c.err };
  } finally {
    clearTimeout(timer);
    process.exitCode = undefined;
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (stdin) Object.defineProperty(process, 'stdin', stdin);
    process.chdir(here);
  }
}
