// DNSSEC of each zone mailrig writes records in. Without it, DANE's TLSA record is ignored by
// senders, and answers can be forged on the way.
import { zonesOf } from '../../dns/bind.js';
import type { CheckEnv } from '../env.js';
import { ok, unknown, warn, type Check, type CheckResult } from '../types.js';
import type { ZoneSecurity } from './dnssec-probe.js';

export function judgeDnssec(zone: string, s: ZoneSecurity, hasTlsa: boolean): CheckResult {
  const head = { id: `dns.dnssec.${zone}`, section: 'dns' as const, subject: `${zone} DNSSEC` };
  if (s.error !== undefined) return unknown(head, s.error, 'retry; check --resolver');
  const tlsa = hasTlsa ? ': senders ignore its TLSA record (DANE)' : '';
  if (!s.dnskey) {
    return warn(head, `unsigned${tlsa}`, `turn on DNSSEC for ${zone} at your DNS host, then add the DS record at your registrar`);
  }
  if (s.validated) return ok(head, 'signed, and the resolver validated it');
  if (!s.ds) return warn(head, `signed, but the parent has no DS record${tlsa}`, `add the DS record of ${zone} at your registrar`);
  return ok(head, 'signed, DS published (the resolver asked does not validate)');
}

export const dnssec: Check<CheckEnv> = {
  section: 'dns',
  name: 'dnssec',
  run: (env) => {
    const zones = zonesOf(env.records);
    return Promise.all(
      zones.map(async (zone) => judgeDnssec(zone, await env.dnssec(zone), env.records.some((r) => r.zone === zone && r.type === 'TLSA'))),
    );
  },
};
