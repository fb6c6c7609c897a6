// Ports: the public ones answer from outside (a TCP connect from this machine to each server
// address), and the internal ones (unbound, rspamd, Redis, postsrsd, mta-sts-daemon, the TLS policy
// front and Radicale) listen on loopback only —
// judged from the host's own socket list and confirmed from outside.
import { portsFor } from '../../plan/desired.js';
import type { Daemon } from '../../plan/plan.js';
import type { ListeningSocket } from '../../host/facts-check.js';
import { STS_PORTS } from '../../render/mta-sts.js';
import { SRS_PORTS } from '../../render/postsrsd.js';
import { RADICALE } from '../../render/radicale.js';
import { RESOLVER_PORT } from '../../render/unbound.js';
import type { CheckEnv, HostAccess } from '../env.js';
import { fail, ok, type Check, type CheckResult } from '../types.js';

/** Ports that must never be reachable from other machines, and what listens there. */
export const LOOPBACK_PORTS: Array<{ port: number; what: string; required: boolean; daemon: Daemon }> = [
  { port: RESOLVER_PORT, what: 'unbound resolver', required: true, daemon: 'unbound' },
  { port: 11332, what: 'rspamd milter', required: true, daemon: 'rspamd' },
  { port: 11333, what: 'rspamd scanner', required: false, daemon: 'rspamd' },
  { port: 11334, what: 'rspamd web controller', required: false, daemon: 'rspamd' },
  { port: 6379, what: 'redis', required: true, daemon: 'redis' },
  { port: SRS_PORTS.forward, what: 'postsrsd (SRS rewriting)', required: true, daemon: 'postsrsd' },
  { port: SRS_PORTS.reverse, what: 'postsrsd (SRS reversal)', required: true, daemon: 'postsrsd' },
  { port: STS_PORTS.daemon, what: 'mta-sts-daemon (MTA-STS policies)', required: true, daemon: 'mta-sts' },
  { port: STS_PORTS.front, what: 'TLS policy front (DANE before MTA-STS)', required: true, daemon: 'sts-front' },
  // Only with dav: radicale; nginx serves it on 443.
  { port: RADICALE.port, what: 'Radicale (calendars and contacts)', required: false, daemon: 'radicale' },
];

export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

export function publicPorts(env: CheckEnv): Array<{ port: number; daemon: Daemon }> {
  const internal = new Set(LOOPBACK_PORTS.map((p) => p.port));
  return Object.entries(portsFor(env.config)).flatMap(([daemon, ports]) =>
    ports.filter((p) => !internal.has(p)).map((port) => ({ port, daemon: daemon as Daemon })),
  );
}

function addresses(env: CheckEnv): string[] {
  return [env.config.server.ipv4, ...(env.config.server.ipv6 ? [env.config.server.ipv6] : [])];
}

function show(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Pure: one public port, from the outside attempts and (when known) the host's sockets. */
export function judgePublicPort(
  port: number,
  daemon: Daemon,
  attempts: Array<{ address: string; error: string | undefined }>,
  listening: ListeningSocket[] | undefined,
): CheckResult {
  const head = { id: `host.port.${port}`, section: 'host' as const, subject: `port ${port} (${daemon})` };
  const failed = attempts.filter((a) => a.error !== undefined);
  if (failed.length === 0) return ok(head, `answers on ${attempts.map((a) => show(a.address, port)).join(' and ')}`);
  const why = failed.map((a) => `${show(a.address, port)}: ${a.error}`).join('; ');
  const sockets = listening?.filter((s) => s.port === port && !isLoopback(s.address));
  if (sockets === undefined) return fail(head, `not reachable from here (${why})`, `check that ${daemon} runs and that no firewall blocks port ${port}`);
  if (sockets.length === 0) {
    return fail(head, `not reachable (${why}); nothing listens on it on the host`, `start ${daemon} (mailrig apply starts daemons that are down)`);
  }
  return fail(
    head,
    `${daemon} listens on the host, but ${why}`,
    `open port ${port}/tcp in the host's firewall and at your provider (security groups, outbound-25 blocks)`,
  );
}

/** Pure: one internal port, from the host's sockets and an outside attempt. */
export function judgeLoopbackPort(
  spec: (typeof LOOPBACK_PORTS)[number],
  listening: ListeningSocket[] | undefined,
  outside: Array<{ address: string; error: string | undefined }>,
): CheckResult | undefined {
  const head = { id: `host.port.${spec.port}`, section: 'host' as const, subject: `port ${spec.port} (${spec.what})` };
  const reachable = outside.filter((a) => a.error === undefined).map((a) => show(a.address, spec.port));
  const sockets = listening?.filter((s) => s.port === spec.port) ?? [];
  const exposed = sockets.filter((s) => !isLoopback(s.address)).map((s) => show(s.address === '*' ? '0.0.0.0' : s.address, spec.port));
  const fix = `mailrig apply restores the ${spec.daemon} config (loopback only); then find what else changed it`;
  if (exposed.length > 0 || reachable.length > 0) {
    const where = [...new Set([...exposed, ...reachable])].join(', ');
    return fail(head, `${spec.what} is exposed beyond loopback: ${where}${reachable.length ? ' (reachable from here)' : ''}`, fix);
  }
  if (listening === undefined) return ok(head, 'not reachable from here');
  if (sockets.length === 0) {
    return spec.required ? fail(head, 'nothing listens on it', `start ${spec.daemon} (mailrig apply starts daemons that are down)`) : undefined;
  }
  return ok(head, `loopback only (${sockets.map((s) => show(s.address, spec.port)).join(', ')})`);
}

async function attempts(env: CheckEnv, port: number) {
  return Promise.all(addresses(env).map(async (address) => ({ address, error: await env.probes.reach(address, port) })));
}

function listeningOf(access: HostAccess): ListeningSocket[] | undefined {
  return access.ok ? access.view.check.listening : undefined;
}

export const ports: Check<CheckEnv> = {
  section: 'host',
  name: 'ports',
  async run(env) {
    const [access, publicAttempts, internalAttempts] = await Promise.all([
      env.host,
      Promise.all(publicPorts(env).map(async (p) => ({ ...p, attempts: await attempts(env, p.port) }))),
      Promise.all(LOOPBACK_PORTS.map(async (spec) => ({ spec, attempts: await attempts(env, spec.port) }))),
    ]);
    const listening = listeningOf(access);
    return [
      ...publicAttempts.map((p) => judgePublicPort(p.port, p.daemon, p.attempts, listening)),
      ...internalAttempts.flatMap((i) => judgeLoopbackPort(i.spec, listening, i.attempts) ?? []),
    ];
  },
};
