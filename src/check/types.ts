// What every status check produces, and the helpers that build it. A check is a small async function
// from injected lookups, connectors and host facts to a few results; the runner runs them in
// parallel, the formatter groups them by section. The result shape is also the documented `--json`
// output (see format.ts), so fields are only ever added, never renamed.

export const SECTIONS = ['host', 'dns', 'tls', 'deliverability'] as const;
export type Section = (typeof SECTIONS)[number];

export type Status = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable key, e.g. "host.daemon.dovecot" or "tls.certificate.993": `--changes` matches runs by it. */
  id: string;
  section: Section;
  status: Status;
  /** What was checked, a few words: "dovecot", "port 993", "example.com DMARC". */
  subject: string;
  /** One line: what was found. */
  message: string;
  /** One line: how to fix it. Present on every warn and fail. */
  fix?: string;
  /** The check could not reach a verdict (a timeout, a refused lookup): reported as warn. */
  unknown?: boolean;
}

/** One check: a name for messages and a function that yields its results. */
export interface Check<Env> {
  section: Section;
  name: string;
  run(env: Env): Promise<CheckResult[]>;
}

type Head = Pick<CheckResult, 'id' | 'section' | 'subject'>;

export function ok(head: Head, message: string): CheckResult {
  return { ...head, status: 'ok', message };
}

export function warn(head: Head, message: string, fix: string): CheckResult {
  return { ...head, status: 'warn', message, fix };
}

export function fail(head: Head, message: string, fix: string): CheckResult {
  return { ...head, status: 'fail', message, fix };
}

/** No verdict: say why, and what would let the check run. */
export function unknown(head: Head, message: string, fix: string): CheckResult {
  return { ...head, status: 'warn', message: `could not check: ${message}`, fix, unknown: true };
}

/** The worse of two statuses. */
export function worst(a: Status, b: Status): Status {
  const rank: Record<Status, number> = { ok: 0, warn: 1, fail: 2 };
  return rank[a] >= rank[b] ? a : b;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A duration in the largest sensible unit: "3 min", "5 h", "2 days". */
export function age(seconds: number): string {
  if (seconds < 3600) return `${Math.max(0, Math.round(seconds / 60))} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}
