// LocalTransport: `server.ssh: local`, for running mailrig on the mail server itself. Same
// commands as over SSH (ShellTransport), run with /bin/sh through execa; sudo when not root.
import { constants, userInfo } from 'node:os';
import { execa } from 'execa';
import { ShellTransport, TransportError, type RawResult } from './transport.js';

export interface LocalTransportOptions {
  /** Run commands through sudo -n. Default: when this process is not root. */
  useSudo?: boolean;
}

export class LocalTransport extends ShellTransport {
  constructor(opts: LocalTransportOptions = {}) {
    const root = process.getuid?.() === 0;
    super('local', root ? 'root' : userInfo().username, 'this machine', opts.useSudo ?? !root);
  }

  /** Creates the transport and, when it uses sudo, checks that sudo needs no password. */
  static async open(opts: LocalTransportOptions = {}): Promise<LocalTransport> {
    const t = new LocalTransport(opts);
    if (t.useSudo) await t.checkSudo();
    return t;
  }

  protected async runRaw(command: string, stdin: string | Buffer | undefined, timeoutMs: number | undefined, shown: string): Promise<RawResult> {
    // Own process group, so a timeout kills the command's children too; the streams are destroyed
    // as well, since a daemon that left the group may still hold them open.
    const sub = execa('/bin/sh', ['-c', command], {
      input: stdin ?? '',
      encoding: 'buffer',
      reject: false,
      stripFinalNewline: false,
      detached: true,
    });
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        if (sub.pid !== undefined) process.kill(-sub.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      sub.stdout?.destroy();
      sub.stderr?.destroy();
    }, timeoutMs);
    const r = await sub;
    if (timer) clearTimeout(timer);
    if (timedOut) {
      throw new TransportError(
        `command timed out after ${Math.round((timeoutMs ?? 0) / 1000)} s on this machine: ${shown.slice(0, 200)}`,
        'a daemon started by the command may hold its output open: use detachStreams for commands that start services',
      );
    }
    if (r.exitCode === undefined && !r.signal) throw new TransportError(`cannot run /bin/sh: ${r.shortMessage}`);
    const signal = r.signal ? 128 + (signalNumber(r.signal) ?? 0) : undefined;
    return { stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr), code: r.exitCode ?? signal ?? -1 };
  }

  async close(): Promise<void> {}
}

function signalNumber(name: string): number | undefined {
  return constants.signals[name as keyof typeof constants.signals];
}
