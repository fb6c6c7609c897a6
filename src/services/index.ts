// The tables the plan, apply and check need, derived from the service descriptors (registry.ts).
import type { Config, Release } from '../config/model.js';
import type { RenderContext } from '../render/context.js';
import type { FileSpec } from '../render/types.js';
import { SERVICES } from './registry.js';
import type { DaemonSpec, HostKind, ServiceData, ServiceDescriptor, TlsPort } from './types.js';

export { SERVICES } from './registry.js';
export type { DaemonSpec, HostKind, Init, ServiceData, ServiceDescriptor, TlsMode, TlsPort } from './types.js';

/** A daemon's name (its descriptor's name). */
export type Daemon = string;

const daemons = SERVICES.filter((s): s is ServiceDescriptor & { daemon: DaemonSpec } => s.daemon !== undefined);

/** The daemons mailrig runs, in the order they are started. */
export const DAEMONS: readonly Daemon[] = daemons.map((s) => s.name);

/** The daemons this config runs, in start order: every daemon but the optional ones it leaves off. */
export function daemonsFor(config: Config): Daemon[] {
  return daemons.filter((s) => runsHere(s, config)).map((s) => s.name);
}

/** The daemons of the host the config is rendered for: every daemon its role has, on or off. */
export function daemonsOfRole(config: Config): Daemon[] {
  return daemons.filter((s) => s.roles?.includes(config.server.role) ?? true).map((s) => s.name);
}

/** Whether the service runs on the host the config is rendered for: its role's, and on in the config. */
function runsHere(s: ServiceDescriptor, config: Config): boolean {
  return (s.roles?.includes(config.server.role) ?? true) && (s.enabled?.(config) ?? true);
}

/** Whether the config may switch the daemon off (its descriptor has `enabled`). */
export function optionalDaemon(name: Daemon): boolean {
  return daemons.some((s) => s.name === name && s.enabled !== undefined);
}

/** A daemon's unit name on a release. */
export function unitName(spec: DaemonSpec, release: Release | undefined): string {
  if (typeof spec.unit === 'string') return spec.unit;
  if (release === undefined) throw new Error('a unit name that depends on the release, for a host of unknown release');
  return spec.unit(release);
}

/** The daemons that read the TLS certificate and key: a new certificate reloads each of them. */
export const TLS_CONSUMERS: readonly Daemon[] = daemons.filter((s) => s.daemon.consumesTls).map((s) => s.name);

/** The daemon's descriptor part; throws for a name that is not a daemon (a bug in mailrig). */
export function daemonSpec(name: Daemon): DaemonSpec {
  const spec = daemons.find((s) => s.name === name)?.daemon;
  if (!spec) throw new Error(`no daemon named ${name}`);
  return spec;
}

/** The process name (comm) of each daemon's main process, for the facts. */
export const MAIN_PROCESS: Readonly<Record<Daemon, string>> = Object.fromEntries(daemons.map((s) => [s.name, s.daemon.mainProcess]));

/** Daemons that run on demand where systemd is PID 1 → their socket unit, for the facts. */
export const ON_DEMAND_SOCKET: Readonly<Record<Daemon, string>> = Object.fromEntries(
  daemons.flatMap((s) => (s.daemon.onDemandWithSystemd ? [[s.name, s.daemon.onDemandWithSystemd.socket]] : [])),
);

/** The ports that serve the mail host's certificate, in the order the checks report them. */
export const TLS_PORTS: readonly (TlsPort & { daemon: Daemon })[] = daemons
  .flatMap((s) => (s.daemon.tlsPorts ?? []).map((p) => ({ ...p, daemon: s.name })))
  .sort((a, b) => tlsOrder(a.port) - tlsOrder(b.port));

/** Mail ports first, by number, HTTPS last: as an operator reads them. */
function tlsOrder(port: number): number {
  return port === 443 ? 100_000 : port;
}

/** Every optional service's stored data paths: what the facts ask about. */
export const DATA_PATHS: readonly string[] = SERVICES.flatMap((s) => (s.data ?? []).map((d) => d.path));

/** The stored data of the optional services this config switches off, each with its service's name. */
export function dataOfServicesOff(config: Config): Array<ServiceData & { service: string }> {
  return SERVICES.filter((s) => s.enabled !== undefined && !s.enabled(config)).flatMap((s) => (s.data ?? []).map((d) => ({ ...d, service: s.name })));
}

/** The services this config runs on its host: every one but those it leaves off. */
function servicesFor(config: Config): readonly ServiceDescriptor[] {
  return SERVICES.filter((s) => runsHere(s, config));
}

/** The packages the host needs, each once, in the registry's order. */
export function packagesFor(config: Config, host: HostKind): string[] {
  return [...new Set(servicesFor(config).flatMap((s) => s.packages(config, host)))];
}

/** The TCP ports each daemon must listen on once it runs (none for a daemon this host's role leaves out). */
export function portsFor(config: Config): Record<Daemon, number[]> {
  // A daemon of another role (Dovecot on a backup MX) is not there, so none of its ports are asked for.
  return Object.fromEntries(daemons.map((s) => [s.name, s.roles && !s.roles.includes(config.server.role) ? [] : s.daemon.ports(config)]));
}

/** Every file mailrig manages on the host, sorted by path. Pure and deterministic. */
export function render(ctx: RenderContext): FileSpec[] {
  const files = servicesFor(ctx.config).flatMap((s) => s.render?.(ctx) ?? []);
  const seen = new Set<string>();
  for (const f of files) {
    // Two services claiming one path is a bug in mailrig, not in the operator's config.
    if (seen.has(f.path)) throw new Error(`render: two services produce ${f.path}`);
    seen.add(f.path);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
