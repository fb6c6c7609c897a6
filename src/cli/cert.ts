// mailrig cert status | renew: the installed certificate (issuer, names, expiry, key), whether every
// TLS port serves it, whether DNS's TLSA record matches its key; renew runs the on-host agent now.
import { AGENT_CONFIG, AGENT_SCRIPT, NODE } from '../agent/config.js';
import { checkRecords } from '../dns/check.js';
import type { Finding } from '../dns/compare.js';
import { buildRecords } from '../dns/records.js';
import { defaultResolver, type DnsResolver } from '../dns/resolver.js';
import { parseServer } from '../dns/wire.js';
import { RuntimeError, UsageError } from '../errors.js';
import { writeAtomic } from '../fs/atomic.js';
import { publicKeys } from '../keys/store.js';
import { TLS_CERT } from '../render/tls.js';
import { daysLeft, tryCertificateInfo, type CertificateInfo } from '../tls/cert.js';
import { acmeEnabled } from '../tls/directory.js';
import { checkServed, type ServedCheck } from '../tls/probe.js';
import { localCertPath } from '../tls/provision.js';
import { openTransport, type HostOptions } from './apply.js';
import { loadProject } from '../pipeline/project.js';

export interface CertStatusOptions extends HostOptions {
  json?: boolean;
  /** Ask this resolver (IP[:port]) for the TLSA record instead of the system's. */
  resolver?: string;
}

export interface CertIo {
  out: (text: string) => void;
  now: () => Date;
  resolver?: DnsResolver;
  probe?: Parameters<typeof checkServed>[3];
}

const defaultIo = (): CertIo => ({ out: (t) => process.stdout.write(t), now: () => new Date() });

export interface CertStatus {
  installed?: CertificateInfo & { daysLeft: number; keyMatches: boolean };
  served: ServedCheck[];
  tlsa: Array<{ value: string; status: Finding['status']; matchesServedKey: boolean }>;
}

export function formatStatus(s: CertStatus, target: string): string {
  const lines: string[] = [];
  const i = s.installed;
  if (!i) lines.push(`${target}: no readable certificate at ${TLS_CERT}`);
  else {
    lines.push(
      `Installed certificate (${TLS_CERT} on ${target}):`,
      `  issuer      ${i.issuer}${i.selfSigned ? ' (self-signed: no certificate from the CA yet)' : ''}`,
      `  names       ${i.names.join(', ')}`,
      `  not after   ${i.notAfter.toISOString()} (${i.daysLeft} days left)`,
      `  key         SHA-256 of SPKI ${i.spkiSha256}${i.keyMatches ? ' (the current key)' : ' (NOT the current key in .mailrig)'}`,
      `  fingerprint ${i.fingerprint}`,
    );
  }
  lines.push('Served:');
  for (const p of s.served) {
    const what = p.error ? `unreachable: ${p.error}` : p.matches ? 'the installed certificate' : `ANOTHER certificate (${p.info?.fingerprint ?? '?'})`;
    lines.push(`  ${String(p.port).padEnd(4)} ${p.service.padEnd(12)} ${what}`);
  }
  lines.push('TLSA (_25._tcp):');
  for (const t of s.tlsa) {
    lines.push(`  ${t.status.padEnd(10)} 3 1 1 ${t.value}${t.matchesServedKey ? '  ← the installed key' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function statusExitCode(s: CertStatus): number {
  const served = s.served.every((p) => p.matches);
  const tlsa = s.tlsa.some((t) => t.matchesServedKey && t.status === 'ok');
  return s.installed?.keyMatches && served && tlsa ? 0 : 1;
}

export async function runCertStatus(opts: CertStatusOptions, io: CertIo = defaultIo()): Promise<number> {
  if (opts.resolver !== undefined && parseServer(opts.resolver) === undefined) {
    throw new UsageError(`--resolver ${opts.resolver}: expected IP or IP:port (IPv6 as [addr]:port)`);
  }
  const project = await loadProject(opts.config);
  const host = await openTransport(project, opts);
  let pem: string | undefined;
  try {
    pem = (await host.get(TLS_CERT))?.toString('utf8');
  } finally {
    await host.close();
  }
  const info = tryCertificateInfo(pem);
  const { config } = project;
  const served = await checkServed(config.server.ipv4, config.server.hostname, info, io.probe);
  const resolver = io.resolver ?? defaultResolver(opts.resolver);
  const tlsaRecords = buildRecords(config, publicKeys(project.keys)).filter((r) => r.type === 'TLSA');
  const findings = await checkRecords(tlsaRecords, resolver);
  const status: CertStatus = {
    ...(info
      ? { installed: { ...info, daysLeft: daysLeft(info, io.now()), keyMatches: info.spkiSha256 === project.keys.tls.current.spkiSha256 } }
      : {}),
    served,
    tlsa: findings.map((f) => {
      const value = f.record.value.replace(/^3 1 1 /, '');
      return { value, status: f.status, matchesServedKey: value === info?.spkiSha256 };
    }),
  };
  io.out(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, host.target));
  return statusExitCode(status);
}

export interface CertRenewOptions extends HostOptions {
  force?: boolean;
}

/** Runs the agent on the host over SSH; keeps the resulting certificate in .mailrig too. */
export async function runCertRenew(opts: CertRenewOptions, io: CertIo = defaultIo()): Promise<number> {
  const project = await loadProject(opts.config);
  if (!acmeEnabled(project.config)) throw new UsageError(`tls.acme is self-signed in ${opts.config}: there is nothing to renew`);
  const host = await openTransport(project, opts);
  try {
    const r = await host.exec(`${NODE} ${AGENT_SCRIPT} --config ${AGENT_CONFIG}${opts.force ? ' --force' : ''}`, { sudo: true, timeoutMs: 10 * 60_000 });
    io.out(r.stdout);
    if (r.code === 127 || /No such file|Cannot find module/.test(r.stderr)) {
      throw new RuntimeError(`${host.target}: the renewal agent is not installed; run mailrig apply first`, r.stderr.trim());
    }
    if (r.code !== 0) {
      if (r.stderr.trim()) io.out(r.stderr);
      return 1;
    }
    const pem = (await host.get(TLS_CERT))?.toString('utf8');
    const info = tryCertificateInfo(pem);
    if (pem && info && !info.selfSigned) writeAtomic(localCertPath(project.keys.dir), pem, 0o644);
    return 0;
  } finally {
    await host.close();
  }
}
