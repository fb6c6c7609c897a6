// mailrig tls roll-key: switch the server to the next TLS key, whose TLSA record was published ahead.
// Refuses while DNS does not show that record (mail from DANE-checking senders would bounce), unless
// --force. The certificate for the new key is issued before anything changes, then apply installs both.
import { RuntimeError, UsageError } from '../errors.js';
import { checkRecords, formatFindings } from '../dns/check.js';
import { buildRecords } from '../dns/records.js';
import { defaultResolver, type DnsResolver } from '../dns/resolver.js';
import { parseServer } from '../dns/wire.js';
import { certificateNames } from '../keys/names.js';
import { publicKeys } from '../keys/store.js';
import { formatFailures } from '../tls/acme.js';
import { certificateInfo } from '../tls/cert.js';
import { acmeEnabled } from '../tls/directory.js';
import { rollKeys } from '../tls/rollover.js';
import type { ApplyOptions } from './apply.js';
import { loadProject, type Project } from '../pipeline/project.js';

export interface RollKeyOptions extends ApplyOptions {
  force?: boolean;
  resolver?: string;
}

export interface TlsIo {
  out: (text: string) => void;
  resolver?: DnsResolver;
}

const defaultIo = (): TlsIo => ({ out: (t) => process.stdout.write(t) });

async function requireNextPublished(project: Project, opts: RollKeyOptions, io: TlsIo): Promise<void> {
  if (opts.resolver !== undefined && parseServer(opts.resolver) === undefined) {
    throw new UsageError(`--resolver ${opts.resolver}: expected IP or IP:port (IPv6 as [addr]:port)`);
  }
  const next = project.keys.tls.next.spkiSha256;
  // The whole TLSA set (current and next): published together, they compare ok together.
  const records = buildRecords(project.config, publicKeys(project.keys)).filter((r) => r.type === 'TLSA');
  const resolver = io.resolver ?? defaultResolver(opts.resolver);
  const findings = await checkRecords(records, resolver);
  const nextFinding = findings.find((f) => f.record.value.endsWith(next));
  if (nextFinding?.status === 'ok') return;
  const report = formatFindings(findings, resolver.description);
  if (!opts.force) {
    throw new RuntimeError(
      `the next key's TLSA record (3 1 1 ${next}) is not visible in DNS; nothing switched (publish it — mailrig dns shows it — wait for the TTL, and retry, or --force)`,
      report.trimEnd(),
    );
  }
  io.out(`${report}--force: switching although DNS does not show the next key's TLSA record; DANE-checking senders may fail until it does.\n`);
}

export async function runRollKey(opts: RollKeyOptions, io: TlsIo = defaultIo()): Promise<number> {
  const project = await loadProject(opts.config);
  await requireNextPublished(project, opts, io);
  const { config, keys } = project;
  const names = certificateNames(config.server.hostname, config.domains.map((d) => d.name));

  let issued: import('../tls/acme.js').IssueResult | undefined;
  if (acmeEnabled(config)) {
    const { openTransport } = await import('./apply.js');
    const { issueFromHere } = await import('../tls/provision.js');
    const { agentConfig } = await import('../pipeline/acme.js');
    const host = await openTransport(project, opts);
    try {
      const init = (await host.exec('[ -d /run/systemd/system ] && echo systemd || echo sysv')).stdout.trim() === 'systemd' ? 'systemd' : 'sysv';
      io.out(`requesting a certificate for the next key from ${config.tls.acme}\n`);
      issued = await issueFromHere(agentConfig(project, init), keys.acmeAccountPem, host, keys.tls.next.privatePem, (l) => io.out(`  … ${l}\n`));
    } catch (e) {
      if (!opts.force) throw new RuntimeError(`no certificate for the next key: ${(e as Error).message}; nothing switched (retry, or --force to switch to a self-signed certificate until the agent gets one)`);
      io.out(`--force: no certificate for the next key (${(e as Error).message}); switching with a self-signed one.\n`);
    } finally {
      await host.close();
    }
    if (issued?.failed.length) io.out(`not validated, left out: ${formatFailures(issued.failed)}\n`);
    if (issued && !issued.certificates.length && !opts.force) {
      throw new RuntimeError('no certificate was issued for the next key; nothing switched');
    }
  }

  const oldCurrent = keys.tls.current.spkiSha256;
  const { retired } = await rollKeys(keys.dir, names);
  if (issued?.certificates.length) {
    const { saveLocal } = await import('../tls/provision.js');
    const first = issued.certificates[0];
    if (first && certificateInfo(first.pem).spkiSha256 === keys.tls.next.spkiSha256) saveLocal(keys.dir, issued);
  }
  io.out(`Switched to the next TLS key (3 1 1 ${keys.tls.next.spkiSha256}); the old key is kept as .mailrig/${retired}; a new next key was made.\n`);

  const { runApply } = await import('./apply.js');
  // The host's privkey.pem differs from .mailrig's now by intent: replace it.
  await runApply({ ...opts, replaceHostKeys: true });
  const fresh = await loadProject(opts.config);
  io.out(
    `\nUpdate DNS: mailrig dns now lists TLSA for the new current and the new next key.\n` +
      `  add:    _25._tcp.${config.server.hostname}. TLSA 3 1 1 ${fresh.keys.tls.next.spkiSha256}\n` +
      `  remove: _25._tcp.${config.server.hostname}. TLSA 3 1 1 ${oldCurrent}\n`,
  );
  return 0;
}
