// What a server actually presents: the leaf certificate on a TLS port, with implicit TLS (465, 993,
// 443) or after SMTP STARTTLS (25, 587). node:net and node:tls only; the certificate is not verified
// here — the caller compares it with the one installed.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { certificateInfo, type CertificateInfo } from './cert.js';
import { TLS_PORTS as SERVICE_TLS_PORTS } from '../services/index.js';

export interface ProbeTarget {
  host: string;
  port: number;
  /** SNI name. */
  servername: string;
  starttls: boolean;
  timeoutMs?: number;
}

/** Reads SMTP replies until the last line of one ("250 …" rather than "250-…"); resolves its code. */
function smtpReply(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (d: Buffer) => {
      buffer += d.toString('latin1');
      const lines = buffer.split('\r\n');
      const last = lines.slice(0, -1).find((l) => /^\d{3} /.test(l));
      if (last) {
        socket.off('data', onData);
        resolve(Number(last.slice(0, 3)));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function startTls(socket: Socket): Promise<void> {
  const expect = async (code: number, what: string) => {
    const got = await smtpReply(socket);
    if (got !== code) throw new Error(`${what}: the server answered ${got}`);
  };
  await expect(220, 'greeting');
  socket.write('EHLO mailrig-cert-status.invalid\r\n');
  await expect(250, 'EHLO');
  socket.write('STARTTLS\r\n');
  await expect(220, 'STARTTLS');
}

/** The PEM of the leaf certificate the server presents. */
export async function servedCertificate(t: ProbeTarget): Promise<string> {
  const timeout = t.timeoutMs ?? 10_000;
  let plain: Socket | undefined;
  if (t.starttls) {
    plain = netConnect({ host: t.host, port: t.port });
    plain.setTimeout(timeout, () => plain?.destroy(new Error('timed out')));
    await new Promise<void>((resolve, reject) => {
      plain?.once('connect', resolve);
      plain?.once('error', reject);
    });
    await startTls(plain);
  }
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      ...(plain ? { socket: plain } : { host: t.host, port: t.port }),
      servername: t.servername,
      rejectUnauthorized: false,
      timeout,
    });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      if (!raw) return reject(new Error('no certificate presented'));
      resolve(`-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`);
    });
    socket.once('timeout', () => socket.destroy(new Error('timed out')));
    socket.once('error', (e) => {
      plain?.destroy();
      reject(e);
    });
  });
}

/** The ports that serve the certificate (from the service descriptors), as this probe speaks them. */
export const TLS_PORTS: Array<{ port: number; starttls: boolean; service: string }> = SERVICE_TLS_PORTS.map((p) => ({
  port: p.port,
  starttls: p.mode !== 'implicit',
  service: p.name,
}));

export interface ServedCheck {
  port: number;
  service: string;
  /** The served leaf is the installed one. */
  matches: boolean;
  info?: CertificateInfo;
  error?: string;
}

/** Compares what each port serves with the installed certificate (by fingerprint). */
export async function checkServed(host: string, servername: string, installed: CertificateInfo | undefined, probe = servedCertificate): Promise<ServedCheck[]> {
  return Promise.all(
    TLS_PORTS.map(async ({ port, starttls, service }): Promise<ServedCheck> => {
      try {
        const info = certificateInfo(await probe({ host, port, servername, starttls }));
        return { port, service, matches: installed !== undefined && info.fingerprint === installed.fingerprint, info };
      } catch (e) {
        return { port, service, matches: false, error: (e as Error).message };
      }
    }),
  );
}
