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
import { execFileSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls';
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

/** How a port starts TLS: implicit (465, 993, 443), or STARTTLS after the protocol's greeting. */
export type StartTls = 'smtp' | 'imap' | undefined;

/** What a port offers as seen by real handshakes, one per protocol version and per cipher found. */
export interface TlsOffer {
  /** SHA-256 fingerprint of the certificate the server presents. */
  certificate: string;
  /** Each version this client can speak (TLSv1 to TLSv1.3), and whether a handshake with only it succeeds. */
  protocols: Record<SecureVersion, boolean>;
  /** Every cipher a handshake agreed on (OpenSSL names; TLS 1.3 suites by their IANA names), sorted. */
  ciphers: string[];
}

const VERSIONS: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'];

/**
 * The protocols, ciphers and certificate a TLS port offers, from handshakes by this machine's
 * OpenSSL (Node's): a handshake per protocol version, then, per version, the way testssl.sh's
 * --fast cipher list works: offer every cipher this client has (security level 0, so nothing weak
 * is left out), note the one the server picks, offer the rest again, until the server refuses.
 * A handshake the server refuses ends in a TLS alert or a reset; any other failure (a timeout) is
 * an error, not a "no".
 */
export async function tlsOffer(ep: Endpoint & { tls: TlsOptions }, starttls: StartTls): Promise<TlsOffer> {
  const protocols = {} as Record<SecureVersion, boolean>;
  let certificate = '';
  for (const v of VERSIONS) {
    const h = await handshake(ep, starttls, v, v === 'TLSv1.3' ? TLS13_SUITES : tls12Ciphers());
    protocols[v] = h !== undefined;
    if (h?.certificate) certificate ||= h.certificate;
  }
  const ciphers: string[] = [];
  for (const [v, all] of [['TLSv1.2', tls12Ciphers()], ['TLSv1.3', TLS13_SUITES]] as const) {
    const left = [...all];
    for (let h = await handshake(ep, starttls, v, left); h; h = await handshake(ep, starttls, v, left)) {
      const i = left.indexOf(h.cipher);
      if (i < 0) throw new Error(`${ep.host}:${ep.port}: the server chose ${h.cipher}, which was not offered`);
      left.splice(i, 1);
      ciphers.push(h.cipher);
      if (left.length === 0) break;
    }
  }
  return { certificate, protocols, ciphers: ciphers.sort() };
}

let known: string[] | undefined;
/** Every TLS 1.2-and-older cipher this machine's openssl knows, weak ones included: testssl.sh's list too. */
function tls12Ciphers(): string[] {
  known ??= execFileSync('openssl', ['ciphers', '-s', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'], { encoding: 'utf8' }).trim().split(':');
  return known;
}

/** One handshake offering only `version` and `ciphers`; undefined when the server refuses it. */
async function handshake(ep: Endpoint & { tls: TlsOptions }, starttls: StartTls, version: SecureVersion, ciphers: string[]) {
  const s = await Session.open({ ...ep, tls: undefined });
  try {
    if (starttls === 'smtp') {
      await s.reply();
      await s.command('EHLO probe.test');
      const r = await s.command('STARTTLS');
      if (r.code !== 220) throw new Error(`${ep.host}:${ep.port}: STARTTLS answered ${r.raw}`);
    } else if (starttls === 'imap') {
      await s.line();
      const r = (await s.imap('t', 'STARTTLS')).at(-1) ?? '';
      if (!/^t OK/.test(r)) throw new Error(`${ep.host}:${ep.port}: STARTTLS answered ${r}`);
    }
    const plain = s.detach();
    // OpenSSL wants a TLS 1.2 cipher in the list even when only TLS 1.3 can be agreed.
    const offered = version === 'TLSv1.3' ? [...tls12Ciphers(), ...ciphers] : ciphers;
    return await new Promise<{ cipher: string; certificate: string } | undefined>((resolve, reject) => {
      const t = tlsConnect({
        socket: plain,
        servername: ep.tls.servername,
        // What is offered is the question here, not whom to trust: an anonymous cipher, which has
        // no certificate to verify, must be listed, not taken for a refusal.
        rejectUnauthorized: false,
        minVersion: version,
        maxVersion: version,
        ciphers: `${offered.join(':')}:@SECLEVEL=0`,
      }, () => {
        const out = { cipher: t.getCipher().name, certificate: t.getPeerCertificate().fingerprint256 ?? '' };
        t.destroy();
        resolve(out);
      });
      t.once('error', (e: NodeJS.ErrnoException) => {
        t.destroy();
        // Refused: an alert (Postfix, nginx), or the connection closed at once (Dovecot's login).
        if (/ALERT|WRONG_VERSION_NUMBER|UNSUPPORTED_PROTOCOL|^ECONNRESET$|^EPIPE$/.test(e.code ?? '')) resolve(undefined);
        else reject(new Error(`${ep.host}:${ep.port} ${version}: ${e.code ?? ''} ${e.message}`));
      });
    });
  } finally {
    s.close();
  }
}
