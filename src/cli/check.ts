// mailrig check: the status dashboard. The outside view (DNS, ports, TLS, blocklists, relay) runs
// from this machine while the inside view (daemons, sockets, queue, disk, updates, drift) is read
// over SSH in one round trip; every check then runs in parallel. Exit 1 when any check fails.
import { existsSync, readFileSync } from 'node:fs';
import { getServers } from 'node:dns';
import { dirname, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { UsageError } from '../errors.js';
import { makeReport, formatJson, formatTable } from '../check/format.js';
import { diffReports, formatChanges, loadLast, saveLast } from '../check/changes.js';
import { serverDnssecProbe } from '../check/dns/dnssec-probe.js';
import type { CheckEnv, HostAccess, Probes } from '../check/env.js';
import { outboundTargets } from '../check/deliverability/outbound.js';
import { MOUNTS } from '../check/host/resources.js';
import { CHECKS } from '../check/index.js';
import { tryRelay } from '../check/net/relay.js';
import { TLS_PORTS } from '../check/net/tls.js';
import { exitCode, runChecks } from '../check/runner.js';
import { buildRecords } from '../dns/records.js';
import { serverResolver } from '../dns/resolver.js';
import { parseServer, type Server } from '../dns/wire.js';
import { checkFactsScript, parseCheckFacts } from '../host/facts-check.js';
import { publicKeys } from '../keys/store.js';
import { openSocket } from '../net/smtp.js';
import { fetchHttps, legacyHandshake, servedCertificate, type Endpoint } from '../net/tls.js';
import { TLS_CERT } from '../render/tls.js';
import { openTransport, type HostOptions } from './apply.js';
import type { Project } from '../pipeline/project.js';
import { loadInputs, planRun, readFacts, type Inputs } from '../pipeline/run.js';

export interface CheckOptions extends HostOptions {
  json?: boolean;
  /** Print only what changed since the previous run (.mailrig/check-last.json). */
  changes?: boolean;
  /** Ask this resolver (IP[:port]) instead of the system's. */
  resolver?: string;
  /** Skip the inside view (no SSH). */
  outsideOnly?: boolean;
  /** host:port targets for the outbound port 25 test (default: big providers' MX hosts). */
  outboundTarget?: string[];
}

function servers(resolver: string | undefined): Server[] {
  if (resolver !== undefined) {
    const s = parseServer(resolver);
    if (s === undefined) throw new UsageError(`--resolver ${resolver}: expected IP or IP:port (IPv6 as [addr]:port)`);
    return [s];
  }
  return getServers().flatMap((t) => parseServer(t) ?? []);
}

/** System CAs (Debian's bundle, else Node's), plus tls.ca_bundle for a private ACME CA. */
function trustedCas(project: Project): string[] {
  const system = '/etc/ssl/certs/ca-certificates.crt';
  const cas = existsSync(system) ? [readFileSync(system, 'utf8')] : [...rootCertificates];
  const bundle = project.config.tls.caBundle;
  if (bundle !== undefined) {
    const path = resolve(dirname(project.configPath), bundle);
    try {
      cas.push(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UsageError(`tls.ca_bundle ${path}: cannot read it (${(e as Error).message})`);
    }
  }
  return cas;
}

/** The inside view: the pipeline's facts with the check's own in one exec, then the plan (its changes are the drift). */
async function readHost(inputs: Inputs, opts: CheckOptions, outbound: string[]): Promise<HostAccess> {
  if (opts.outsideOnly) return { ok: false, error: 'skipped' };
  const { project } = inputs;
  let host;
  try {
    host = await openTransport(project, opts);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  try {
    const extra = checkFactsScript({ mounts: MOUNTS, certificatePath: TLS_CERT, outbound, resolverProbe: project.config.server.hostname });
    let read;
    try {
      read = await readFacts(host, inputs, extra, 60_000);
    } catch (e) {
      return { ok: false, error: `the facts script failed: ${(e as Error).message}` };
    }
    const { plan, desired } = await planRun(inputs, host, read.facts, { diffs: false });
    // With ACME the host's certificate is meant to differ from the rendered bootstrap one; the TLS
    // checks judge it (valid, trusted, installed) instead of calling it drift.
    if (project.config.tls.acme !== 'self-signed') plan.changes = plan.changes.filter((c) => c.file.path !== TLS_CERT);
    return { ok: true, view: { target: host.target, facts: read.facts, check: parseCheckFacts(read.raw), plan, managedFiles: desired.files.length } };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    await host.close();
  }
}

function memo<T>(fn: (key: number) => Promise<T>): (key: number) => Promise<T> {
  const cache = new Map<number, Promise<T>>();
  return (key) => {
    let p = cache.get(key);
    if (!p) cache.set(key, (p = fn(key)));
    return p;
  };
}

function realProbes(project: Project, cas: string[]): Probes {
  const { ipv4, hostname } = project.config.server;
  const endpoint = (port: number): Endpoint => ({ host: ipv4, port, mode: TLS_PORTS.find((p) => p.port === port)?.mode ?? 'implicit', servername: hostname });
  return {
    reach: async (address, port) => {
      try {
        (await openSocket(address, port, 5000)).destroy();
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
    served: memo((port) => servedCertificate(endpoint(port), cas)),
    legacy: memo((port) => legacyHandshake(endpoint(port))),
    https: (address, name, path) => fetchHttps(address, name, path, cas),
    relay: (address) => tryRelay(address),
  };
}

export async function runCheck(opts: CheckOptions, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const inputs = await loadInputs(opts.config);
  const { project } = inputs;
  const list = servers(opts.resolver);
  const cas = trustedCas(project);
  const outbound = outboundTargets(opts.outboundTarget);
  const now = new Date();
  const env: CheckEnv = {
    config: project.config,
    records: buildRecords(project.config, publicKeys(project.keys)),
    tlsKeys: { current: project.keys.tls.current.spkiSha256, next: project.keys.tls.next.spkiSha256 },
    selfSignedCertPem: project.keys.tls.selfSignedCertPem,
    resolver: serverResolver(list),
    dnssec: serverDnssecProbe(list),
    probes: realProbes(project, cas),
    host: readHost(inputs, opts, outbound),
    outboundTargets: outbound,
    now,
  };
  const results = await runChecks(CHECKS, env);
  const report = makeReport(project.config.server.hostname, results, now);
  const previous = loadLast(project.keys.dir);
  saveLast(project.keys.dir, report);
  if (opts.changes) {
    const changes = diffReports(previous?.results ?? [], results);
    if (opts.json) out(`${JSON.stringify({ version: 1, since: previous?.checkedAt ?? null, checkedAt: report.checkedAt, changes }, null, 2)}\n`);
    else out(formatChanges(changes, previous, report.target));
  } else {
    out(
      opts.json
        ? formatJson(report)
        : formatTable(report, { width: process.stdout.isTTY ? process.stdout.columns : 120, color: process.stdout.isTTY === true && !process.env.NO_COLOR }),
    );
  }
  return exitCode(results);
}
