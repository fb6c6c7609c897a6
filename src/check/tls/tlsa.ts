// DANE: the TLSA record of the SMTP port matches the key the server really serves. A mismatch makes
// DANE senders refuse to deliver — but only once the zone is signed, so unsigned it is a warning.
import { hostZone } from '../../dns/records.js';
import type { CheckEnv } from '../env.js';
import type { Served } from '../../net/tls.js';
import { fail, ok, unknown, warn, type Check, type CheckResult } from '../types.js';
import { spkiSha256 } from './certificate.js';

export function judgeTlsa(name: string, published: string[], served: Served, signed: boolean, keys: { current: string; next: string }): CheckResult {
  const head = { id: 'tls.tlsa.25', section: 'tls' as const, subject: `TLSA ${name}` };
  const leaf = served.chain[0];
  if (!leaf) return unknown(head, `no certificate on port 25 (${served.error ?? 'no TLS'})`, 'see the certificate line of port 25');
  const key = spkiSha256(leaf);
  const values = published.map((v) => v.trim().split(/\s+/));
  const matching = values.filter((f) => f[0] === '3' && f[1] === '1' && f[2] === '1' && (f[3] ?? '').toLowerCase() === key);
  if (matching.length) {
    const which = key === keys.current ? 'the current key' : key === keys.next ? 'the next key' : 'a key not in .mailrig/';
    return ok(head, `matches the served key (${which})${signed ? '' : '; counts only once the zone is signed'}`);
  }
  const fix =
    key === keys.current || key === keys.next
      ? `publish ${name}. TLSA 3 1 1 ${key.slice(0, 16)}… (mailrig dns prints it)`
      : 'the host serves a key mailrig did not make: mailrig apply installs the key from .mailrig/ (or publish the served key\'s TLSA first)';
  const text = published.length ? `no TLSA record matches the served key (${key.slice(0, 16)}…)` : 'no TLSA record published';
  return signed ? fail(head, `${text}: DANE senders refuse to deliver`, fix) : warn(head, text, fix);
}

export const tlsa: Check<CheckEnv> = {
  section: 'tls',
  name: 'tlsa',
  async run(env) {
    const name = `_25._tcp.${env.config.server.hostname}`;
    const [lookup, served, security] = await Promise.all([env.resolver.lookup(name, 'TLSA'), env.probes.served(25), env.dnssec(hostZone(env.config))]);
    if (lookup.status === 'error') return [unknown({ id: 'tls.tlsa.25', section: 'tls', subject: `TLSA ${name}` }, lookup.error ?? 'no answer', 'retry; check --resolver')];
    const signed = security.error === undefined && security.dnskey;
    return [judgeTlsa(name, lookup.records.map((r) => r.value), served, signed, env.tlsKeys)];
  },
};
