// Progress for slow work. On a terminal: one line per step with a spinner and the elapsed time,
// turned into a check mark when the next step starts. Elsewhere: one plain line per step.
export interface Progress {
  step(message: string): void;
  /** Ends the last step as done (true) or failed (false). */
  end(ok: boolean): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function progress(stream: NodeJS.WriteStream = process.stdout): Progress {
  const started = Date.now();
  if (!stream.isTTY) {
    return {
      step: (message) => stream.write(`  … ${message} (${seconds(Date.now() - started)})\n`),
      end: () => undefined,
    };
  }
  let current: { message: string; since: number } | undefined;
  let frame = 0;
  const draw = (mark: string) => {
    if (!current) return;
    stream.write(`\r\x1b[2K  ${mark} ${current.message} ${seconds(Date.now() - current.since)}`);
  };
  const timer = setInterval(() => draw(FRAMES[frame++ % FRAMES.length] ?? '-'), 100);
  timer.unref();
  const finish = (mark: string) => {
    if (!current) return;
    draw(mark);
    stream.write('\n');
    current = undefined;
  };
  return {
    step(message) {
      finish('✓');
      current = { message, since: Date.now() };
      draw(FRAMES[0] ?? '-');
    },
    end(ok) {
      finish(ok ? '✓' : '✗');
      clearInterval(timer);
    },
  };
}
