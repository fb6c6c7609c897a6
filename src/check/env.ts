// Everything the checks read, injected: the config and the records mailrig would publish, DNS
// lookups, network probes and the host's facts. The CLI builds the real one (cli/check.ts); unit
// tests build their own from fixtures. Probes that several checks share (the certificate served on a
// port) are memoized by the CLI's implementation, so each runs once per `mailrig check`.
import type { X509Certificate } from 'node:crypto';
import type { Config } from '../config/model.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { DnsRecord } from '../dns/types.js';
import type { Facts } from '../host/facts.js';
import type { CheckFacts } from '../host/facts-check.js';
import type { Plan } from '../plan/plan.js';
import type { ZoneSecurity } from './dns/dnssec-probe.js';
import type { RelayAttempt } from './net/relay.js';
import type { Fetched, FloorProbe, Served } from '../net/tls.js';

export interface HostView {
  /** Where the facts came from, for messages: "root@203.0.113.10:22". */
  target: string;
  facts: Facts;
  check: CheckFacts;
  /** What apply would change: the managed files that are no longer as rendered are the drift. */
  plan: Plan;
  /** How many files mailrig manages on the host. */
  managedFiles: number;
}

/** The inside view, or why there is none (SSH failed, or the operator skipped it). */
export type HostAccess = { ok: true; view: HostView } | { ok: false; error: string };

export interface Probes {
  /** Open and close a TCP connection: undefined when it connected, else the reason. */
  reach(address: string, port: number): Promise<string | undefined>;
  /** The certificate served on a TLS port (see TLS_PORTS), verified against the trusted CAs. */
  served(port: number): Promise<Served>;
  /** A TLS 1.1 handshake on a TLS port. */
  legacy(port: number): Promise<FloorProbe>;
  /** GET https://name/path from `address`, verified against the trusted CAs. */
  https(address: string, name: string, path: string): Promise<Fetched>;
  relay(address: string): Promise<RelayAttempt>;
}

export interface CheckEnv {
  config: Config;
  /** Every record `mailrig dns` prints, PTR included. */
  records: DnsRecord[];
  /** SPKI SHA-256 (hex) of the current and the next TLS key in .mailrig/. */
  tlsKeys: { current: string; next: string };
  /** The self-signed bootstrap certificate mailrig made (PEM): served until ACME replaces it. */
  selfSignedCertPem: string;
  resolver: DnsResolver;
  dnssec(zone: string): Promise<ZoneSecurity>;
  probes: Probes;
  host: Promise<HostAccess>;
  /** host:port targets the host's outbound port 25 is tried against. */
  outboundTargets: string[];
  now: Date;
}

/** The leaf certificate of a chain as PEM-free identity: SHA-256 of its DER. */
export function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}
