// The renewal agent and ACME issuance around an apply: the agent's configuration from mailrig.yaml,
// its files, and — once the host converged — a certificate when the served one is not a current
// CA-issued one for the configured names. A CA that cannot be reached is a warning, never a failure:
// the self-signed certificate keeps every service up and the agent retries daily.
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../fs/atomic.js';
import { dirname, resolve } from 'node:path';
import { agentBundle } from '../agent/bundle.js';
import { ACCOUNT_KEY, type AgentConfig } from '../agent/config.js';
import { agentFiles, type AgentFile } from '../agent/install.js';
import { serviceCommand } from '../apply/scripts.js';
import type { Config } from '../config/model.js';
import { parentZone, zoneOf } from '../dns/names.js';
import { hostZone } from '../dns/records.js';
import { parseTsigKeyFile } from '../dns/tsig.js';
import { UsageError } from '../errors.js';
import type { Facts } from '../host/facts.js';
import type { Transport } from '../host/transport.js';
import { certificateNames } from '../keys/names.js';
import { TLS_KEY, TLS_CERT } from '../render/tls.js';
import type { FileSpec } from '../render/types.js';
import { acmeAgent } from '../services/acme-agent.js';
import { ACME_WEBROOT } from '../render/web.js';
import { daemonSpec, TLS_CONSUMERS, unitName } from '../services/index.js';
import { formatFailures, type IssueResult } from '../tls/acme.js';
import { certificateInfo, renewalDecision, spkiOfKey, tryCertificateInfo, type CertificateChoice } from '../tls/cert.js';
import { directoryUrl, nameLimit } from '../tls/directory.js';
import { consent, installOnHost, issueFromHere, localCertPath, readLocalCert, saveLocal, type AcmeProject, type ConsentOptions } from '../tls/provision.js';
import type { Project } from './project.js';

function caBundle(project: AcmeProject): string | undefined {
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

function dnsSettings(project: AcmeProject): { server: string; keyName: string; secret: string } | undefined {
  const dns = project.config.dns;
  if (dns.provider !== 'rfc2136' || !dns.server || !dns.keyName || !dns.keyFile) return undefined;
  const keyPath = resolve(dirname(project.configPath), dns.keyFile);
  const key = parseTsigKeyFile(readFileSync(keyPath, 'utf8'), dns.keyName, keyPath);
  return { server: dns.server, keyName: dns.keyName, secret: key.secret.toString('base64') };
}

export function agentConfig(project: AcmeProject, init: Facts['init']): AgentConfig {
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
    reload: TLS_CONSUMERS.map((d) => unitName(daemonSpec(d), config.server.release)),
    logFile: '/var/log/mailrig-agent.log',
  };
}

/** The agent's files for this host as files of the plan, bundle included (built once per process). */
export async function agentFileSpecs(project: Project, init: Facts['init']): Promise<FileSpec[]> {
  const files: AgentFile[] = agentFiles(await agentBundle(), agentConfig(project, init), project.keys.acmeAccountPem, project.config.server.hostname);
  return files.map((f) => ({ ...f, owner: 'root', group: 'root', service: acmeAgent.name, onChange: 'none', secret: f.mode === '0600' }));
}

/** The reload command of each TLS consumer, for a new certificate. */
export function tlsReloads(init: Facts['init']): Record<string, string> {
  return Object.fromEntries(TLS_CONSUMERS.map((d) => [d, serviceCommand(init, d, 'reload')]));
}

/** Whether the served certificate is due for (re)issuance, and why. */
export function issuanceDue(project: Project, served: CertificateChoice | undefined, now = new Date()): { renew: boolean; message: string } {
  const names = certificateNames(project.config.server.hostname, project.config.domains.map((d) => d.name));
  return renewalDecision(tryCertificateInfo(served?.pem), { names, spkiSha256: spkiOfKey(project.keys.tls.current.privatePem) }, now);
}

/** Keeps a CA-issued certificate found on the host (the agent renewed it) in the key store too. */
export function keepServedLocally(project: Project, served: CertificateChoice | undefined): void {
  if (served?.source === 'host' && served.pem !== readLocalCert(project.keys.dir)) {
    writeAtomic(localCertPath(project.keys.dir), served.pem, 0o644);
  }
}

/** Whether the operator agreed to the CA's terms; warns when not. */
export async function acmeConsent(project: Project, opts: CertOptions): Promise<boolean> {
  if (await consent(project, opts)) return true;
  opts.warn(
    `no certificate requested: Let's Encrypt's terms are not accepted yet (re-run with --accept-acme-terms). The host serves the self-signed certificate.`,
  );
  return false;
}

export interface CertOptions extends ConsentOptions {
  out: (line: string) => void;
  warn: (line: string) => void;
}

/**
 * Gets a certificate from the CA for the current key and installs it (reloading the TLS services).
 * Never throws for the CA's sake.
 */
export async function issueCertificate(
  project: Project,
  host: Transport,
  facts: Facts,
  served: CertificateChoice | undefined,
  reason: string,
  opts: CertOptions,
): Promise<void> {
  const url = directoryUrl(project.config.tls.acme);
  if (url === undefined) return;
  const keyPem = project.keys.tls.current.privatePem;
  opts.out(`  … requesting a certificate from ${url} (${reason})`);
  let result: IssueResult;
  try {
    result = await issueFromHere(agentConfig(project, facts.init), project.keys.acmeAccountPem, host, keyPem, (l) => opts.out(`  … ${l}`));
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
    const reloaded = await installOnHost(host, result, served?.pem, tlsReloads(facts.init));
    const info = certificateInfo(first.pem);
    opts.out(
      `${host.target}: certificate from ${info.issuer} for ${info.names.length} names, valid until ${info.notAfter.toISOString().slice(0, 10)}${reloaded ? `; reloaded ${TLS_CONSUMERS.join(', ')}` : ''}`,
    );
  } catch (e) {
    opts.warn(`the new certificate could not be installed: ${(e as Error).message}`);
  }
}
