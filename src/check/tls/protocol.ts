// The protocol floor: every TLS port refuses TLS 1.1 and older (Mozilla "intermediate").
import type { CheckEnv } from '../env.js';
import type { FloorProbe } from '../../net/tls.js';
import { TLS_PORTS } from '../net/tls.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

export function judgeFloor(port: number, probe: FloorProbe): CheckResult {
  const head = { id: `tls.protocols.${port}`, section: 'tls' as const, subject: `protocols on ${port}` };
  if (probe.error !== undefined) return unknown(head, probe.error, 'see the certificate line of this port');
  if (probe.refused) return ok(head, 'TLS 1.1 and older refused');
  return fail(head, `accepts ${probe.protocol ?? 'TLS older than 1.2'}`, 'mailrig apply restores the TLS settings (TLS 1.2 minimum); find what changed them');
}

export const protocols: Check<CheckEnv> = {
  section: 'tls',
  name: 'protocols',
  run: (env) => Promise.all(TLS_PORTS.map(async ({ port }) => judgeFloor(port, await env.probes.legacy(port)))),
};
