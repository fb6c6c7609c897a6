// No open relay: from this machine — a stranger to the server — ask it to pass mail between two
// outside domains. It must refuse at RCPT (Postfix: 554 5.7.1 Relay access denied). This machine
// must not be in the server's mynetworks, or the test proves nothing (checked by the caller's
// addresses: the server trusts only its own loopback).
import type { CheckEnv } from '../env.js';
import type { RelayAttempt } from '../net/relay.js';
import { fail, ok, unknown, type Check, type CheckResult } from '../types.js';

export function judgeRelay(address: string, a: RelayAttempt): CheckResult {
  const head = { id: `deliverability.relay.${address}`, section: 'deliverability' as const, subject: `open relay (${address})` };
  if (a.step !== 'rcpt' || a.code === undefined) {
    if (a.code !== undefined && a.code >= 500) return ok(head, `refused before the relay question (${a.step}: ${a.code} ${a.text})`);
    return unknown(head, `${a.step}: ${a.code ?? ''} ${a.text}`.trim(), 'see the port 25 line; run the check from a machine that can reach port 25');
  }
  if (a.code >= 500) return ok(head, `refused: ${a.code} ${a.text}`);
  if (a.code >= 400) return unknown(head, `temporary answer ${a.code} ${a.text}`, 'retry later (greylisting or a rate limit answered first)');
  return fail(head, `accepted mail for another domain from a stranger: ${a.code} ${a.text}`, 'mailrig apply restores smtpd_relay_restrictions (permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination); check mynetworks');
}

export const relay: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'relay',
  run: async (env) => [judgeRelay(env.config.server.ipv4, await env.probes.relay(env.config.server.ipv4))],
};
