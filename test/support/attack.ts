// Raw SMTP and IMAP conversations for the security tests: what an attacker types, byte for byte,
// rather than what a well-behaved client library would send. Plain TCP, implicit TLS or STARTTLS,
// from a chosen local address (so a test can prove which address the server saw), with timing.
// The line reading is mailrig's own (src/net/smtp.ts); this adds how a session opens and upgrades.
//
//   const s = await Session.open({ host, port: 587, localAddress: host.gateway });
//   await s.reply();                                   // the greeting
//   const ehlo = await s.command('EHLO attacker.test'); // { code: 250, lines: [...], raw }
//   await s.command('STARTTLS'); await s.startTls({ servername, ca });
//   s.close();
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Conversation, type Reply } from '../../src/net/smtp.js';

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

export class Session extends Conversation {
  static async open(ep: Endpoint): Promise<Session> {
    const timeoutMs = ep.timeoutMs ?? 30_000;
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const base = { host: ep.host, port: ep.port, localAddress: ep.localAddress };
      const s = ep.tls
        ? tlsConnect({ ...base, servername: ep.tls.servername, ca: ep.tls.ca }, () => resolve(s))
        : netConnect(base, () => resolve(s));
      s.once('error', reject);
      s.setTimeout(timeoutMs, () => s.destroy(new Error(`no answer from ${ep.host}:${ep.port} within ${timeoutMs} ms`)));
    });
    return new Session(socket, timeoutMs);
  }

  /** Upgrades the connection to TLS (after the server agreed to STARTTLS). */
  async startTls(opts: TlsOptions): Promise<void> {
    const plain = this.detach();
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, servername: opts.servername, ca: opts.ca }, () => resolve(s));
      s.once('error', reject);
    });
    this.attach(secure);
  }
}

/** Opens an SMTP session and reads the greeting; EHLO (with its reply) unless told not to. */
export async function smtpSession(ep: Endpoint, ehlo: string | false = 'attacker.test'): Promise<{ c: Session; greeting: Reply; ehlo?: Reply }> {
  const c = await Session.open(ep);
  const greeting = await c.reply();
  if (ehlo === false) return { c, greeting };
  return { c, greeting, ehlo: await c.command(`EHLO ${ehlo}`) };
}

/** The EHLO keywords (first word of each line after the first). */
export function ehloKeywords(reply: Reply): string[] {
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
