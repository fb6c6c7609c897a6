// Whether each TLS port serves the installed certificate: the leaf a client sees there (implicit TLS
// on 465, 993, 443; SMTP STARTTLS on 25, 587), compared by fingerprint. The probing itself is
// net/tls's, shared with `mailrig check`; nothing is verified here but the identity of the leaf.
import { servedCertificate, type Endpoint } from '../net/tls.js';
import { certificateInfo, type CertificateInfo } from './cert.js';
import { TLS_PORTS as SERVICE_TLS_PORTS } from '../services/index.js';

/** The PEM of the leaf certificate an endpoint serves; rejects with the reason when it serves none. */
export async function servedLeaf(ep: Endpoint): Promise<string> {
  const served = await servedCertificate(ep, []);
  const leaf = served.chain[0];
  if (!leaf) throw new Error(served.error ?? 'no certificate presented');
  return leaf.toString();
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
export async function checkServed(host: string, servername: string, installed: CertificateInfo | undefined, probe: (ep: Endpoint) => Promise<string> = servedLeaf): Promise<ServedCheck[]> {
  return Promise.all(
    TLS_PORTS.map(async ({ port, starttls, service }): Promise<ServedCheck> => {
      try {
        const info = certificateInfo(await probe({ host, port, servername, mode: starttls ? 'smtp' : 'implicit' }));
        return { port, service, matches: installed !== undefined && info.fingerprint === installed.fingerprint, info };
      } catch (e) {
        return { port, service, matches: false, error: (e as Error).message };
      }
    }),
  );
}
