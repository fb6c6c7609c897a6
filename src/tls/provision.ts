// ACME from the operator's machine: which certificate the host should serve (the plan must not replace
// the agent's renewed certificate with an older one), the CA's terms, and issuance through the host's
// nginx (HTTP-01) or RFC 2136 (DNS-01), then the new certificate's installation. The pipeline decides
// when (pipeline/acme.ts); a CA that cannot be reached is a warning there, never a failed apply.
import { existsSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../fs/atomic.js';
import { join } from 'node:path';
import type { Config } from '../config/model.js';
import { parentZone } from '../dns/names.js';
import { parseServer } from '../dns/wire.js';
import { UsageError } from '../errors.js';
import type { Facts } from '../host/facts.js';
import { quote } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import type { KeyMaterial } from '../keys/store.js';
import type { FileSpec } from '../render/types.js';
import { TLS_CERT } from '../render/tls.js';
import { acmeClient, issueCertificates, type ChallengeResponder, type IssueResult } from './acme.js';
import { certPathFor, chooseCertificate, type CertificateChoice } from './cert.js';
import { dnsResponder, httpResponder } from './challenges.js';
import { acmeEnabled, directoryUrl, termsNeedConsent } from './directory.js';

/** The CA-issued chain in the key store (further certificates, over the name limit: acme-2.crt, …). */
export const LOCAL_CERT = 'tls/acme.crt';
const TERMS_FILE = 'acme/terms-accepted';

/** What ACME needs of a project: the config and its key store. */
export interface AcmeProject {
  configPath: string;
  config: Config;
  keys: KeyMaterial;
}

/** Where and how to get a certificate (the renewal agent's configuration is a superset of it). */
export interface IssueSettings {
  directoryUrl: string;
  caBundlePem?: string;
  email: string;
  names: string[];
  limit: number;
  webroot: string;
  dns01?: { server: string; keyName: string; secret: string; zones: Record<string, string>; ttl: number };
}

export function localCertPath(keyDir: string, n = 0): string {
  return join(keyDir, n === 0 ? LOCAL_CERT : `tls/acme-${n + 1}.crt`);
}

export function readLocalCert(keyDir: string): string | undefined {
  const path = localCertPath(keyDir);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * Points the desired certificate file at the certificate the host should serve (see chooseCertificate),
 * so that plan and apply leave a valid CA-issued certificate alone. Returns the choice; undefined when
 * ACME is off (the self-signed certificate is then simply rendered).
 */
export async function adoptServedCertificate(
  project: AcmeProject,
  host: Transport,
  facts: Facts,
  files: FileSpec[],
  now = new Date(),
): Promise<CertificateChoice | undefined> {
  if (!acmeEnabled(project.config)) return undefined;
  const file = files.find((f) => f.path === TLS_CERT);
  if (!file) return undefined;
  const hostPem = facts.files[TLS_CERT] ? (await host.get(TLS_CERT))?.toString('utf8') : undefined;
  const choice = chooseCertificate({
    selfSigned: file.content,
    local: readLocalCert(project.keys.dir),
    host: hostPem,
    spkiSha256: project.keys.tls.current.spkiSha256,
    now,
  });
  file.content = choice.pem;
  return choice;
}

export interface ConsentOptions {
  /** --accept-acme-terms */
  acceptTerms?: boolean;
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
}

/** Whether the operator has agreed to the CA's terms before (recorded in the key store). */
export function consentRecorded(project: AcmeProject): boolean {
  const acme = project.config.tls.acme;
  if (!termsNeedConsent(acme)) return true;
  const path = join(project.keys.dir, TERMS_FILE);
  return existsSync(path) && readFileSync(path, 'utf8').includes(directoryUrl(acme) ?? '');
}

/** Whether the operator agrees to the CA's terms (now, or recorded in the key store before). */
export async function consent(project: AcmeProject, opts: ConsentOptions): Promise<boolean> {
  if (consentRecorded(project)) return true;
  const acme = project.config.tls.acme;
  let ok = opts.acceptTerms === true;
  if (!ok && opts.interactive) {
    ok = await opts.confirm(`Do you accept Let's Encrypt's Subscriber Agreement (https://letsencrypt.org/repository/) for ${project.config.adminEmail}?`);
  }
  if (ok) writeAtomic(join(project.keys.dir, TERMS_FILE), `${directoryUrl(acme)} accepted ${new Date().toISOString()}\n`, 0o600);
  return ok;
}

function responder(host: Transport, cfg: IssueSettings): ChallengeResponder {
  if (cfg.dns01) {
    const server = parseServer(cfg.dns01.server);
    if (!server) throw new UsageError(`dns.server ${cfg.dns01.server}: expected IP or IP:port`);
    const zones = cfg.dns01.zones;
    return dnsResponder({
      server,
      key: { name: cfg.dns01.keyName, secret: Buffer.from(cfg.dns01.secret, 'base64') },
      zoneOf: (name) => zones[name] ?? parentZone(name),
    });
  }
  return httpResponder(cfg.webroot, {
    write: (path, content) => host.put(path, content, '0644', 'root', 'root'),
    remove: async (path) => {
      await host.exec(`rm -f ${quote(path)}`, { sudo: true });
    },
  });
}

/** Issues certificates for the configured names and `keyPem` from the operator's machine. */
export async function issueFromHere(
  cfg: IssueSettings,
  accountKeyPem: string,
  host: Transport,
  keyPem: string,
  log: (line: string) => void,
): Promise<IssueResult> {
  return issueCertificates({
    client: acmeClient({ directoryUrl: cfg.directoryUrl, accountKeyPem, caBundlePem: cfg.caBundlePem }),
    email: cfg.email,
    keyPem,
    names: cfg.names,
    limit: cfg.limit,
    responder: responder(host, cfg),
    log,
  });
}

/** Keeps the issued chains in the key store: acme.crt, acme-2.crt, … */
export function saveLocal(keyDir: string, result: IssueResult): void {
  result.certificates.forEach((c, n) => writeAtomic(localCertPath(keyDir, n), c.pem, 0o644));
}

/**
 * Puts the chains on the host and, when the served one changed, runs the reload commands of the TLS
 * services (name → command). Returns whether it reloaded.
 */
export async function installOnHost(host: Transport, result: IssueResult, served: string | undefined, reload: Record<string, string>): Promise<boolean> {
  for (const [n, c] of result.certificates.entries()) await host.put(certPathFor(TLS_CERT, n), c.pem, '0644', 'root', 'root');
  const first = result.certificates[0];
  if (!first || first.pem === served) return false;
  for (const [name, command] of Object.entries(reload)) {
    const r = await host.exec(command, { sudo: true, detachStreams: true });
    if (r.code !== 0) throw new Error(`reloading ${name} for the new certificate failed: ${r.stderr.trim()}`);
  }
  return true;
}
