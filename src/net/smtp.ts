// Just enough of SMTP and IMAP to reach STARTTLS and to try a relay: read a (multi-line) reply, send
// a command. Used by the TLS probes and the open-relay check; every wait has a deadline.
import { connect, type Socket } from 'node:net';

export interface Reply {
  code: number;
  /** The reply's lines, codes stripped, joined with " / ". */
  text: string;
}

/** A line reader over a socket that never waits past its deadline. */
export class Conversation {
  private buffer = '';
  private waiting: (() => void) | undefined;
  private closed: Error | undefined;

  constructor(
    readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  private readonly onData = (d: Buffer) => {
    this.buffer += d.toString('latin1');
    this.waiting?.();
  };

  private readonly onEnd = (e?: unknown) => {
    this.closed ??= e instanceof Error ? e : new Error('the server closed the connection');
    this.waiting?.();
  };

  /** Stops reading, so TLS can take over the socket. */
  detach(): Socket {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    return this.socket;
  }

  /** The next line (without CRLF). */
  async line(): Promise<string> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\n');
      if (i >= 0) {
        const line = this.buffer.slice(0, i).replace(/\r$/, '');
        this.buffer = this.buffer.slice(i + 1);
        return line;
      }
      if (this.closed) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${this.timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  /** An SMTP reply: lines "250-…" up to the last "250 …". */
  async reply(): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      lines.push(line.slice(4));
      if (!/^\d{3}-/.test(line)) return { code: Number(line.slice(0, 3)) || 0, text: lines.join(' / ') };
    }
  }

  async command(cmd: string): Promise<Reply> {
    this.socket.write(`${cmd}\r\n`);
    return this.reply();
  }

  /** Reads IMAP lines until the tagged response of `tag`. */
  async imapTagged(tag: string): Promise<string> {
    for (;;) {
      const line = await this.line();
      if (line.startsWith(`${tag} `)) return line.slice(tag.length + 1);
    }
  }
}

/** A plain TCP connection, or a rejection with the reason ("connection refused", "timed out"). */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'EHOSTUNREACH' ? 'host unreachable' : e.message));
    });
  });
}

/** The name the checks introduce themselves with (EHLO); any syntactically valid name will do. */
export const EHLO_NAME = 'mailrig-check.invalid';

/** Brings a fresh SMTP or IMAP conversation to the point where TLS starts (after STARTTLS's "go ahead"). */
export async function startTls(c: Conversation, protocol: 'smtp' | 'imap'): Promise<void> {
  if (protocol === 'smtp') {
    const greeting = await c.reply();
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    const ehlo = await c.command(`EHLO ${EHLO_NAME}`);
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.code} ${ehlo.text}`);
    if (!/(^| \/ )STARTTLS( |$)/i.test(ehlo.text)) throw new Error('STARTTLS is not offered');
    const go = await c.command('STARTTLS');
    if (go.code !== 220) throw new Error(`STARTTLS: ${go.code} ${go.text}`);
    return;
  }
  const greeting = await c.line();
  if (!/^\* OK/i.test(greeting)) throw new Error(`greeting: ${greeting}`);
  c.socket.write('a STARTTLS\r\n');
  const tagged = await c.imapTagged('a');
  if (!/^OK/i.test(tagged)) throw new Error(`STARTTLS: ${tagged}`);
}
