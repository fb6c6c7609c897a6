// ACME from the operator's machine, around apply: which certificate the host should serve (the plan
// must not replace the agent's renewed certificate with an older one), then — after a successful apply
// — the agent's installation and, when due, issuance through the host's nginx (HTTP-01) or RFC 2136
// (DNS-01), and the new certificate's installation. A CA that cannot be reached is a warning, never a
// failed apply: the self-signed certificate keeps every service up and the agent retries daily.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { agentBundle } from '../agent/bundle.js';
import { ACCOUNT_KEY, certPathFor, type AgentConfig } from '../agent/config.js';
import { agentFiles, installAgent } from '../agent/install.js';
import { serviceCommand } from '../apply/scripts.js';
import { daemonSpec } from '../services/index.js';
import type { Config } from '../config/model.js';
import { hostZone } from '../dns/records.js';
import { parentZone, zoneOf } from '../dns/names.js';
import { parseTsigKeyFile } from '../dns/tsig.js';
import { parseServer } from '../dns/wire.js';
import { UsageError } from '../errors.js';
import type { Facts } from '../host/facts.js';
import { quote } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import { certificateNames } from '../keys/names.js';
import { TLS_CONSUMERS, type DesiredState } from '../plan/plan.js';
import { TLS_CERT, TLS_KEY } from '../render/tls.js';
import { ACME_WEBROOT } from '../render/web.js';
import type { Project } from '../cli/project.js';
import { acmeClient, formatFailures, issueCertificates, type ChallengeResponder, type IssueResult } from './acme.js';
import { certificateInfo, chooseCertificate, renewalDecision, spkiOfKey, tryCertificateInfo, type CertificateChoice } from './cert.js';
import { dnsResponder, httpResponder } from './challenges.js';
import { acmeEnabled, directoryUrl, nameLimit, termsNeedConsent } from './directory.js';

/** The CA-issued chain in the key store (further certificates, over the name limit: acme-2.crt, …). */
export const LOCAL_CERT = 'tls/acme.crt';
const TERMS_FILE = 'acme/terms-accepted';

export function localCertPath(keyDir: string, n = 0): string {
  return join(keyDir, n === 0 ? LOCAL_CERT : `tls/acme-${n + 1}.crt`);
}

export function readLocalCert(keyDir: string): string | undefined {
  const path = localCertPath(keyDir);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Packages the agent needs beyond packagesFor's: cron where systemd is not PID 1. */
export function agentPackages(config: Config, facts: Facts): string[] {
  return acmeEnabled(config) && facts.init === 'sysv' ? ['cron'] : [];
}

/**
 * Points the desired certificate file at the certificate the host should serve (see chooseCertificate),
 * so that plan and apply leave a valid CA-issued certificate alone. Returns the choice; undefined when
 * ACME is off (the self-signed certificate is then simply rendered).
 */
export async function adoptServedCertificate(
  project: Project,
  host: Transport,
  facts: Facts,
  desired: DesiredState,
  now = new Date(),
): Promise<CertificateChoice | undefined> {
  if (!acmeEnabled(project.config)) return undefined;
  const file = desired.files.find((f) => f.path === TLS_CERT);
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

export interface CertOptions {
  /** --accept-acme-terms */
  acceptTerms?: boolean;
  interactive: boolean;
  out: (line: string) => void;
  warn: (line: string) => void;
  confirm: (question: string) => Promise<boolean>;
}

/** Whether the operator has agreed to the CA's terms (now, or recorded in the key store before). */
async function consent(project: Project, opts: CertOptions): Promise<boolean> {
  const acme = project.config.tls.acme;
  if (!termsNeedConsent(acme)) return true;
  const path = join(project.keys.dir, TERMS_FILE);
  if (existsSync(path) && readFileSync(path, 'utf8').includes(directoryUrl(acme) ?? '')) return true;
  let ok = opts.acceptTerms === true;
  if (!ok && opts.interactive) {
    ok = await opts.confirm(`Do you accept Let's Encrypt's Subscriber Agreement (https://letsencrypt.org/repository/) for ${project.config.adminEmail}?`);
  }
  if (ok) writeFileSync(path, `${directoryUrl(acme)} accepted ${new Date().toISOString()}\n`, { mode: 0o600 });
  return ok;
}

function caBundle(project: Project): string | undefined {
  const file = project.config.tls.caBundle;
  if (file === undefined) return undefined;
  const path = resolve(dirname(project.configPath), file);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`tls.ca_bundle: cannot read ${path} (${(e as Error).message})`);
  }
}

function zoneMap(config: Config, names: string[]): Record<string, string> {
  const zones = [...config.domains.map((d) => d.name), hostZone(config)];
  return Object.fromEntries(names.map((n) => [n, zoneOf(`_acme-challenge.${n}`, zones) ?? parentZone(n)]));
}

function dnsSettings(project: Project): { server: string; keyName: string; secret: string } | undefined {
  const dns = project.config.dns;
  if (dns.provider !== 'rfc2136' || !dns.server || !dns.keyName || !dns.keyFile) return undefined;
  const keyPath = resolve(dirname(project.configPath), dns.keyFile);
  const key = parseTsigKeyFile(readFileSync(keyPath, 'utf8'), dns.keyName, keyPath);
  return { server: dns.server, keyName: dns.keyName, secret: key.secret.toString('base64') };
}

export function agentConfig(project: Project, init: Facts['init']): AgentConfig {
  const { config } = project;
  const names = certificateNames(config.server.hostname, config.domains.map((d) => d.name));
  const dns = dnsSettings(project);
  const ca = caBundle(project);
  return {
    version: 1,
    directoryUrl: directoryUrl(config.tls.acme) ?? '',
    ...(ca ? { caBundlePem: ca } : {}),
    email: config.adminEmail,
    names,
    limit: nameLimit(config.tls.acme),
    keyFile: TLS_KEY,
    certFile: TLS_CERT,
    accountKeyFile: ACCOUNT_KEY,
    webroot: ACME_WEBROOT,
    ...(dns ? { dns01: { ...dns, zones: zoneMap(config, names), ttl: 60 } } : {}),
    init,
    reload: TLS_CONSUMERS.map((d) => daemonSpec(d).unit),
    logFile: '/var/log/mailrig-agent.log',
  };
}

function responder(project: Project, host: Transport, cfg: AgentConfig): ChallengeResponder {
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
export async function issueFromHere(project: Project, host: Transport, init: Facts['init'], keyPem: string, log: (line: string) => void): Promise<IssueResult> {
  const cfg = agentConfig(project, init);
  return issueCertificates({
    client: acmeClient({ directoryUrl: cfg.directoryUrl, accountKeyPem: project.keys.acmeAccountPem, caBundlePem: cfg.caBundlePem }),
    email: cfg.email,
    keyPem,
    names: cfg.names,
    limit: cfg.limit,
    responder: responder(project, host, cfg),
    log,
  });
}

/** Keeps the issued chains in the key store: acme.crt, acme-2.crt, … */
export function saveLocal(keyDir: string, result: IssueResult): void {
  result.certificates.forEach((c, n) => writeFileSync(localCertPath(keyDir, n), c.pem, { mode: 0o644 }));
}

/** Puts the chains on the host and reloads the TLS services when the served one changed. */
export async function installOnHost(host: Transport, init: Facts['init'], result: IssueResult, served: string | undefined): Promise<boolean> {
  for (const [n, c] of result.certificates.entries()) await host.put(certPathFor(TLS_CERT, n), c.pem, '0644', 'root', 'root');
  const first = result.certificates[0];
  if (!first || first.pem === served) return false;
  for (const d of TLS_CONSUMERS) {
    const r = await host.exec(serviceCommand(init, d, 'reload'), { sudo: true, detachStreams: true });
    if (r.code !== 0) throw new Error(`reloading ${d} for the new certificate failed: ${r.stderr.trim()}`);
  }
  return true;
}

/**
 * After a successful apply: install or update the agent, then get a certificate when the served one is
 * not a current CA-issued one for the configured names. Never throws for the CA's sake.
 */
export async function ensureCertificate(
  project: Project,
  host: Transport,
  facts: Facts,
  served: CertificateChoice | undefined,
  opts: CertOptions,
  now = new Date(),
): Promise<void> {
  const url = directoryUrl(project.config.tls.acme);
  if (url === undefined) return;
  if (!(await consent(project, opts))) {
    opts.warn(
      `no certificate requested: Let's Encrypt's terms are not accepted yet (re-run with --accept-acme-terms). The host serves the self-signed certificate.`,
    );
    return;
  }
  const cfg = agentConfig(project, facts.init);
  try {
    const files = agentFiles(await agentBundle(), cfg, project.keys.acmeAccountPem, project.config.server.hostname);
    const written = await installAgent(host, files, facts.init);
    if (written.length) opts.out(`  … renewal agent installed (${written.length} file${written.length === 1 ? '' : 's'}; daily ${facts.init === 'systemd' ? 'systemd timer' : 'cron entry'})`);
  } catch (e) {
    opts.warn(`the renewal agent could not be installed: ${(e as Error).message}`);
  }
  if (served?.source === 'host' && served.pem !== readLocalCert(project.keys.dir)) {
    writeFileSync(localCertPath(project.keys.dir), served.pem, { mode: 0o644 });
  }
  const keyPem = project.keys.tls.current.privatePem;
  const decision = renewalDecision(tryCertificateInfo(served?.pem), { names: cfg.names, spkiSha256: spkiOfKey(keyPem) }, now);
  if (!decision.renew) return;
  opts.out(`  … requesting a certificate from ${url} (${decision.message})`);
  let result: IssueResult;
  try {
    result = await issueFromHere(project, host, facts.init, keyPem, (l) => opts.out(`  … ${l}`));
  } catch (e) {
    opts.warn(
      `no certificate from ${url}: ${(e as Error).message}. The host keeps serving its ${served?.source === 'self-signed' ? 'self-signed ' : ''}certificate; the renewal agent on the host retries daily (or now: mailrig cert renew).`,
    );
    return;
  }
  if (result.failed.length) {
    opts.warn(`these names failed validation and are not in the certificate (does their DNS point at the host?): ${formatFailures(result.failed)}`);
  }
  const first = result.certificates[0];
  if (!first) {
    opts.warn('no certificate was issued; the host keeps serving its current certificate and the agent retries daily.');
    return;
  }
  if (certificateInfo(first.pem).spkiSha256 !== project.keys.tls.current.spkiSha256) {
    opts.warn('the CA returned a certificate for another key; it was not installed.');
    return;
  }
  saveLocal(project.keys.dir, result);
  try {
    const reloaded = await installOnHost(host, facts.init, result, served?.pem);
    const info = certificateInfo(first.pem);
    opts.out(
      `${host.target}: certificate from ${info.issuer} for ${info.names.length} names, valid until ${info.notAfter.toISOString().slice(0, 10)}${reloaded ? '; reloaded postfix, dovecot, nginx' : ''}`,
    );
  } catch (e) {
    opts.warn(`the new certificate could not be installed: ${(e as Error).message}`);
  }
}
