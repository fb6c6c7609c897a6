// Outbound TLS in the last 24 hours, from Postfix's log (smtp_tls_loglevel = 1): each TLS session of
// smtp(8) logs "<Kind> TLS connection established to <host>": only Verified (DANE, or a certificate
// checked against the destination's name: an MTA-STS policy's MX names, a tls_policy of verify or
// secure) counts as verified; Trusted (a chain to a known CA, the
// name not checked: an attacker's certificate for any name passes), Untrusted and Anonymous count
// as encrypted only. A delivery on a connection that logged no TLS session
// went in plaintext. The relays' transports (postfix/smarthost) always verify and are not counted.
import type { CheckEnv } from '../env.js';
import { withHost } from '../host/view.js';
import { ok, plural, warn, type Check, type CheckResult } from '../types.js';

export interface OutboundTls {
  /** TLS sessions whose peer was verified (Verified). */
  verified: number;
  /** TLS sessions without verification (Trusted, Untrusted, Anonymous). */
  encrypted: number;
  /** Deliveries (per recipient) sent over a connection without TLS. */
  plaintext: number;
  /** Deliveries (per recipient) sent in all. */
  sent: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = 86_400;

/** "Dec  2 10:00:01" in the host's local time → epoch seconds; the year is the one that is not in the future. */
export function logTime(stamp: string, now: number, utcOffsetMinutes: number): number | undefined {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})$/.exec(stamp);
  const month = MONTHS.indexOf(m?.[1] ?? '');
  if (!m || month < 0) return undefined;
  const at = (year: number) => Date.UTC(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000 - utcOffsetMinutes * 60;
  const year = new Date((now + utcOffsetMinutes * 60) * 1000).getUTCFullYear();
  const t = at(year);
  return t > now + DAY ? at(year - 1) : t;
}

/**
 * Counts the shortened log lines (facts-check.ts SMTP_TLS_SED) of the last 24 hours. A TLS line
 * belongs to the next delivery of the same smtp process to the same host; the further recipients of
 * that message went over the same session. A reused connection (conn_use) is plaintext: Postfix
 * reuses only plaintext connections unless smtp_tls_connection_reuse is on, which mailrig leaves off.
 */
export function countOutboundTls(lines: string[], now: number, utcOffsetMinutes: number): OutboundTls {
  const counts: OutboundTls = { verified: 0, encrypted: 0, plaintext: 0, sent: 0 };
  const session = new Map<string, { relay: string; tls: boolean; queueId: string | undefined }>();
  for (const line of lines) {
    const [stamp = '', pid = '', kind, a = '', b = '', connUse = ''] = line.split('\t');
    const t = logTime(stamp, now, utcOffsetMinutes);
    const recent = t !== undefined && t > now - DAY;
    if (kind === 'tls') {
      session.set(pid, { relay: b, tls: true, queueId: undefined });
      if (!recent) continue;
      if (a === 'Verified') counts.verified++;
      else counts.encrypted++;
    } else if (kind === 'sent') {
      const [queueId, relay] = [a, b];
      const s = session.get(pid);
      let tls = false;
      if (connUse === '' && s?.relay === relay && (s.queueId === undefined || s.queueId === queueId)) {
        tls = s.tls;
        s.queueId = queueId;
      } else if (connUse === '') {
        session.set(pid, { relay, tls: false, queueId });
      }
      if (!recent) continue;
      counts.sent++;
      if (!tls) counts.plaintext++;
    }
  }
  return counts;
}

/** `relayed`: a default relay takes all outside mail, so none goes out directly. */
export function judgeOutboundTls(c: OutboundTls, relayed = false): CheckResult {
  const head = { id: 'deliverability.outbound-tls', section: 'deliverability' as const, subject: 'outbound TLS (24 h)' };
  if (c.sent === 0 && c.verified + c.encrypted === 0) {
    return ok(head, relayed ? 'no mail sent directly in the last 24 hours (the default relay takes it, always over verified TLS)' : 'no mail sent to other servers in the last 24 hours');
  }
  const text = `${plural(c.verified, 'verified TLS connection')} (DANE or a checked certificate), ${plural(c.encrypted, 'connection')} encrypted without verification, ${plural(c.plaintext, 'delivery', 'deliveries')} in plaintext`;
  if (c.plaintext === 0) return ok(head, text);
  return warn(
    head,
    text,
    'the receiving servers offered no STARTTLS; grep "status=sent" /var/log/postfix.log names them, and tls_policy: <domain>: encrypt (or stronger) in mailrig.yaml refuses plaintext to a domain',
  );
}

export const outboundTls: Check<CheckEnv> = {
  section: 'deliverability',
  name: 'outbound-tls',
  run: (env) =>
    withHost(env, ({ check }) => [
      judgeOutboundTls(countOutboundTls(check.smtpTlsLog, check.now, check.utcOffsetMinutes), env.config.relay?.default !== undefined),
    ]),
};
