// TLS as a client sees it on a service port: the certificate chain served (after STARTTLS where the
// port needs it), whether it verifies against the given CAs, and whether a TLS 1.1 handshake is
// refused. Also an HTTPS GET from a chosen address (the MTA-STS policy). Real sockets; `mailrig
// check` and `mailrig cert status` both probe through here, and take these as injected functions.
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { Conversation, openSocket, startTls } from './smtp.js';

/** How TLS starts on a port: at once (465, 993, 443) or after STARTTLS in SMTP or IMAP. */
export type TlsMode = 'implicit' | 'smtp' | 'imap';

export interface Served {
  /** Leaf first; empty when the handshake failed. */
  chain: X509Certificate[];
  /** Verified against the CAs given (names not included: the checks test names themselves). */
  authorized: boolean;
  /** OpenSSL's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED. */
  authorizationError: string | undefined;
  protocol: string | undefined;
  /** Why no certificate was seen (connection refused, no STARTTLS, handshake failure). */
  error: string | undefined;
}

export interface Endpoint {
  host: string;
  port: number;
  mode: TlsMode;
  servername: string;
}

const TIMEOUT_MS = 10_000;

async function handshake(ep: Endpoint, options: ConnectionOptions): Promise<TLSSocket> {
  const base: ConnectionOptions = { ...options, servername: ep.servername };
  let socketOption: ConnectionOptions = { host: ep.host, port: ep.port };
  if (ep.mode !== 'implicit') {
    const plain = await openSocket(ep.host, ep.port, TIMEOUT_MS);
    const c = new Conversation(plain, TIMEOUT_MS);
    try {
      await startTls(c, ep.mode);
    } catch (e) {
      plain.destroy();
      throw e;
    }
    socketOption = { socket: c.detach() };
  }
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ ...base, ...socketOption });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TLS handshake within ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    });
  });
}

function chainOf(s: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: PeerCertificate | undefined = s.getPeerCertificate(true);
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = (c as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return out;
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  return (err.message ?? String(e)).split('\n')[0]?.replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:/, '') ?? String(e);
}

/** The certificate an endpoint serves, checked against `ca` (PEMs). */
export async function servedCertificate(ep: Endpoint, ca: string[]): Promise<Served> {
  try {
    const s = await handshake(ep, { ca, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    const served: Served = {
      chain: chainOf(s),
      authorized: s.authorized,
      authorizationError: s.authorizationError === undefined ? undefined : String(s.authorizationError),
      protocol: s.getProtocol() ?? undefined,
      error: undefined,
    };
    s.destroy();
    return served;
  } catch (e) {
    return { chain: [], authorized: false, authorizationError: undefined, protocol: undefined, error: reason(e) };
  }
}

export interface FloorProbe {
  /** The server refused TLS 1.1 and older. */
  refused: boolean;
  /** The protocol agreed when it was not refused. */
  protocol: string | undefined;
  /** The probe itself failed before TLS (connection, STARTTLS): no verdict. */
  error: string | undefined;
}

/** Offers only TLS 1.0–1.1 (at OpenSSL security level 0, so this client can) and sees what happens. */
export async function legacyHandshake(ep: Endpoint): Promise<FloorProbe> {
  let tcpDone = false;
  try {
    const s = await handshake(ep, { rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }).finally(() => {
      tcpDone = true;
    });
    const protocol = s.getProtocol() ?? 'an old protocol';
    s.destroy();
    return { refused: false, protocol, error: undefined };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // A TLS alert or a closed connection during the handshake is the refusal; failing to get there is not.
    const tlsLevel = /SSL|TLS|alert|socket disconnected|ECONNRESET/i.test(`${err.code ?? ''} ${err.message}`);
    return tcpDone && tlsLevel ? { refused: true, protocol: undefined, error: undefined } : { refused: false, protocol: undefined, error: reason(e) };
  }
}

export interface Fetched {
  status: number | undefined;
  body: string;
  authorized: boolean;
  authorizationError: string | undefined;
  /** The leaf certificate the server presented. */
  certificate: X509Certificate | undefined;
  error: string | undefined;
}

/** GET https://servername/path from the given address (so no system DNS is involved). */
export function fetchHttps(address: string, servername: string, path: string, ca: string[]): Promise<Fetched> {
  return new Promise((resolve) => {
    const req = request(
      { host: address, servername, port: 443, path, method: 'GET', headers: { Host: servername }, ca, rejectUnauthorized: false, timeout: TIMEOUT_MS },
      (res) => {
        const socket = res.socket as TLSSocket;
        const raw = socket.getPeerCertificate()?.raw;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            body,
            authorized: socket.authorized,
            authorizationError: socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
            certificate: raw ? new X509Certificate(raw) : undefined,
            error: undefined,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => resolve({ status: undefined, body: '', authorized: false, authorizationError: undefined, certificate: undefined, error: reason(e) }));
    req.end();
  });
}
