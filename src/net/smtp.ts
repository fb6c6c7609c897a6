// Just enough of SMTP and IMAP to talk to a server line by line: read a (multi-line) reply, send a
// command, reach STARTTLS. The TLS probes and the open-relay check use it, and so do the security
// tests' raw sessions (which type what an attacker would). Every wait has a deadline.
import { connect, type Socket } from 'node:net';

export interface Reply {
  /** 0 when the server closed the connection before the reply's last line. */
  code: number;
  /** The text of each line, without the code and separator. */
  lines: string[];
  /** The reply as received, for messages; ends in "<connection closed>" when it was cut short. */
  raw: string;
}

/** A reply's text on one line, for reports: "mail.example.com / PIPELINING / STARTTLS". */
export function replyText(r: Reply): string {
  return r.lines.join(' / ');
}

/** A line reader over a socket that never waits past its deadline. */
export class Conversation {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private ended: string | undefined;
  private current: Socket;

  constructor(
    socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.current = socket;
    this.attach(socket);
  }

  /** The socket read from: the plain one, or the TLS one after `attach`. */
  get socket(): Socket {
    return this.current;
  }

  /** Why the connection ended ("the server closed the connection", a socket error), or undefined. */
  get endReason(): string | undefined {
    return this.ended;
  }

  private readonly onData = (d: Buffer | string) => {
    this.buffer += typeof d === 'string' ? d : d.toString('latin1');
    this.wake();
  };

  private readonly onEnd = (e?: unknown) => {
    this.ended ??= e instanceof Error ? e.message : 'the server closed the connection';
    this.wake();
  };

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Stops reading, so TLS can take over the socket. */
  detach(): Socket {
    this.current.off('data', this.onData);
    this.current.off('end', this.onEnd);
    this.current.off('close', this.onEnd);
    this.current.off('error', this.onEnd);
    return this.current;
  }

  /** Reads from `socket` from now on (the TLS socket that took over a detached one), from a clean slate. */
  attach(socket: Socket): void {
    this.current = socket;
    this.buffer = '';
    this.ended = undefined;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /** Sends bytes exactly as given (no line ending added). */
  send(raw: string): void {
    this.current.write(raw, 'latin1');
  }

  /** The next line (without CRLF), or undefined once the server has closed the connection. */
  async line(): Promise<string | undefined> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\n');
      if (i >= 0) {
        const line = this.buffer.slice(0, i).replace(/\r$/, '');
        this.buffer = this.buffer.slice(i + 1);
        return line;
      }
      if (this.ended !== undefined) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) {
        const partial = this.buffer ? ` (have ${JSON.stringify(this.buffer)})` : '';
        throw new Error(`no answer within ${this.timeoutMs / 1000} s${partial}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Whether the server has closed the connection, waiting up to `ms` for it. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.ended === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.ended !== undefined;
  }

  /** An SMTP reply: lines "250-…" up to the last "250 …" (lines without a code are skipped). */
  async reply(): Promise<Reply> {
    const lines: string[] = [];
    let raw = '';
    for (;;) {
      const line = await this.line();
      if (line === undefined) return { code: 0, lines, raw: `${raw}<connection closed>` };
      raw += `${line}\n`;
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) continue;
      lines.push(m[3] ?? '');
      if (m[2] === ' ') return { code: Number(m[1]), lines, raw };
    }
  }

  /** Sends one SMTP command line and reads its reply. */
  async command(cmd: string): Promise<Reply> {
    this.send(`${cmd}\r\n`);
    return this.reply();
  }

  /** Sends an IMAP command with `tag`; every line up to and including the tagged one. */
  async imap(tag: string, command: string): Promise<string[]> {
    this.send(`${tag} ${command}\r\n`);
    return this.imapUntil(tag);
  }

  /** IMAP lines up to and including the tagged response of `tag` ("<connection closed>" last if cut short). */
  async imapUntil(tag: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === undefined) return [...lines, '<connection closed>'];
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines;
    }
  }

  close(): void {
    this.current.destroy();
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
  const ended = () => new Error(c.endReason ?? 'the server closed the connection');
  const expect = (r: Reply, code: number, what: string) => {
    if (r.code === 0) throw ended();
    if (r.code !== code) throw new Error(`${what}: ${r.code} ${replyText(r)}`);
  };
  if (protocol === 'smtp') {
    expect(await c.reply(), 220, 'greeting');
    const ehlo = await c.command(`EHLO ${EHLO_NAME}`);
    expect(ehlo, 250, 'EHLO');
    if (!ehlo.lines.some((l) => /^STARTTLS( |$)/i.test(l))) throw new Error('STARTTLS is not offered');
    expect(await c.command('STARTTLS'), 220, 'STARTTLS');
    return;
  }
  const greeting = await c.line();
  if (greeting === undefined) throw ended();
  if (!/^\* OK/i.test(greeting)) throw new Error(`greeting: ${greeting}`);
  const tagged = await c.imap('a', 'STARTTLS');
  if (tagged.at(-1) === '<connection closed>') throw ended();
  if (!/^a OK/i.test(tagged.at(-1) ?? '')) throw new Error(`STARTTLS: ${tagged.at(-1)}`);
}
