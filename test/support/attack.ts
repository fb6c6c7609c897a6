// Raw SMTP and IMAP conversations for the security tests: what an attacker types, byte for byte,
// rather than what a well-behaved client library would send. Plain TCP, implicit TLS or STARTTLS,
// from a chosen local address (so a test can prove which address the server saw), with timing.
//
//   const s = await Conversation.open({ host, port: 587, localAddress: host.gateway });
//   await s.smtpReply();                           // the greeting
//   const ehlo = await s.smtp('EHLO attacker.test'); // { code: 250, lines: [...] }
//   await s.smtp('STARTTLS'); await s.startTls({ servername, ca });
//   s.close();
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface Endpoint {
  host: string;
  port: number;
  /** The client's source address (must be one of this machine's addresses). */
  localAddress?: string;
  /** Implicit TLS (465, 993, 443). */
  tls?: TlsOptions;
  timeoutMs?: number;
}

export interface TlsOptions {
  servername: string;
  /** PEM the server's chain must lead to. */
  ca: string;
}

export interface SmtpReply {
  code: number;
  /** The text of each line, without the code and separator. */
  lines: string[];
  /** The whole reply as received, for assertion messages. */
  raw: string;
}

export class Conversation {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private ended = false;
  private error: Error | undefined;

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  static async open(ep: Endpoint): Promise<Conversation> {
    const timeoutMs = ep.timeoutMs ?? 30_000;
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const base = { host: ep.host, port: ep.port, localAddress: ep.localAddress };
      const s = ep.tls
        ? tlsConnect({ ...base, servername: ep.tls.servername, ca: ep.tls.ca }, () => resolve(s))
        : netConnect(base, () => resolve(s));
      s.once('error', reject);
      s.setTimeout(timeoutMs, () => s.destroy(new Error(`no answer from ${ep.host}:${ep.port} within ${timeoutMs} ms`)));
    });
    return new Conversation(socket, timeoutMs);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (e) => {
      this.error = e;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Sends bytes exactly as given (no line ending added). */
  send(raw: string): void {
    this.socket.write(raw, 'latin1');
  }

  /** One line (without CRLF), or undefined when the server closed the connection. */
  async line(): Promise<string | undefined> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\n');
      if (i >= 0) {
        const line = this.buffer.slice(0, i).replace(/\r$/, '');
        this.buffer = this.buffer.slice(i + 1);
        return line;
      }
      if (this.ended || this.error) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete line within ${this.timeoutMs} ms; have ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Whether the server has closed the connection (waiting up to `ms` for it). */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && !this.error && Date.now() < deadline) await sleep(50);
    return this.ended || this.error !== undefined;
  }

  /** Reads one SMTP reply (all lines of a multi-line reply); code 0 if the server hung up. */
  async smtpReply(): Promise<SmtpReply> {
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
  async smtp(command: string): Promise<SmtpReply> {
    this.send(`${command}\r\n`);
    return this.smtpReply();
  }

  /** Sends an IMAP command with `tag` and returns every line up to and including the tagged one. */
  async imap(tag: string, command: string): Promise<string[]> {
    this.send(`${tag} ${command}\r\n`);
    return this.imapUntil(tag);
  }

  async imapUntil(tag: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === undefined) return [...lines, '<connection closed>'];
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines;
    }
  }

  /** Upgrades the connection to TLS (after the server agreed to STARTTLS). */
  async startTls(opts: TlsOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    this.buffer = '';
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, servername: opts.servername, ca: opts.ca }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** The protocol TLS negotiated, or undefined on a plain connection. */
  tlsProtocol(): string | undefined {
    return 'getProtocol' in this.socket ? (this.socket.getProtocol() ?? undefined) : undefined;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Opens an SMTP session and reads the greeting; EHLO (with its reply) unless told not to. */
export async function smtpSession(ep: Endpoint, ehlo: string | false = 'attacker.test'): Promise<{ c: Conversation; greeting: SmtpReply; ehlo?: SmtpReply }> {
  const c = await Conversation.open(ep);
  const greeting = await c.smtpReply();
  if (ehlo === false) return { c, greeting };
  return { c, greeting, ehlo: await c.smtp(`EHLO ${ehlo}`) };
}

/** The EHLO keywords (first word of each line after the first). */
export function ehloKeywords(reply: SmtpReply): string[] {
  return reply.lines.slice(1).map((l) => (l.split(' ')[0] ?? '').toUpperCase());
}

/** PLAIN SASL response: base64 of \0user\0password. */
export function saslPlain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/** How a TCP connection attempt to a port ends: open, refused (RST or ICMP), or no answer in time. */
export function probe(host: string, port: number, localAddress?: string, timeoutMs = 3000): Promise<'open' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port, localAddress });
    const done = (r: 'open' | 'refused' | 'timeout') => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done('timeout'));
    s.once('connect', () => done('open'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ETIMEDOUT' ? 'timeout' : 'refused'));
  });
}

/** Milliseconds an async step takes, with its result. */
export async function timed<T>(step: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await step();
  return { ms: performance.now() - start, value };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
