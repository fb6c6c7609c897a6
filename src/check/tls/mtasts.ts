// MTA-STS: the policy each mail domain serves over HTTPS parses, enforces, and names the MX. Senders
// fetch it only over a certificate they trust, so an untrusted one makes the policy void.
import type { CheckEnv } from '../env.js';
import type { Fetched } from '../../net/tls.js';
import { fail, ok, unknown, warn, type Check, type CheckResult } from '../types.js';
import { fingerprint } from '../env.js';
import { leafOf } from './certificate.js';

export const POLICY_PATH = '/.well-known/mta-sts.txt';

export interface Policy {
  version: string | undefined;
  mode: string | undefined;
  mx: string[];
  maxAge: number | undefined;
}

/** RFC 8461 3.2: "key: value" lines, CRLF or LF. */
export function parsePolicy(text: string): Policy {
  const p: Policy = { version: undefined, mode: undefined, mx: [], maxAge: undefined };
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_]+):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const value = m[2] ?? '';
    if (m[1] === 'version') p.version = value;
    else if (m[1] === 'mode') p.mode = value;
    else if (m[1] === 'mx') p.mx.push(value.toLowerCase());
    else if (m[1] === 'max_age' && /^\d+$/.test(value)) p.maxAge = Number(value);
  }
  return p;
}

/** An mx pattern matches the host, wildcards covering one label (RFC 8461 4.1). */
export function mxMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && !h.slice(0, -(p.length - 1)).includes('.');
  return p === h;
}

export function judgePolicy(domain: string, hostname: string, fetched: Fetched, bootstrapFingerprint: string): CheckResult {
  const url = `https://mta-sts.${domain}${POLICY_PATH}`;
  const head = { id: `tls.mta-sts.${domain}`, section: 'tls' as const, subject: `${domain} MTA-STS policy` };
  if (fetched.error !== undefined) return fail(head, `${url}: ${fetched.error}`, 'check that nginx runs and mta-sts.' + domain + ' points to the server');
  if (fetched.status !== 200) return fail(head, `${url}: HTTP ${fetched.status ?? '?'}`, 'mailrig apply renders the policy for nginx');
  const p = parsePolicy(fetched.body);
  const problems: string[] = [];
  if (p.version !== 'STSv1') problems.push(`version ${p.version ?? 'missing'}`);
  if (p.maxAge === undefined) problems.push('no max_age');
  if (!p.mx.some((m) => mxMatches(m, hostname))) problems.push(`does not list ${hostname} (mx: ${p.mx.join(', ') || 'none'})`);
  if (problems.length) return fail(head, `policy does not parse as needed: ${problems.join('; ')}`, 'mailrig apply renders the policy again');
  if (p.mode !== 'enforce') return warn(head, `mode ${p.mode ?? 'missing'}: senders still deliver without TLS`, 'mailrig renders mode: enforce; mailrig apply restores it');
  const names = fetched.certificate?.checkHost(`mta-sts.${domain}`) !== undefined;
  if (!fetched.authorized || !names) {
    const bootstrap = fetched.certificate !== undefined && fingerprint(fetched.certificate) === bootstrapFingerprint;
    const why = !names ? `the certificate does not cover mta-sts.${domain}` : `certificate not trusted (${fetched.authorizationError ?? '?'})`;
    if (bootstrap && names) return warn(head, "enforce, lists the MX; served with the self-signed bootstrap certificate, so senders ignore it until ACME", 'get a certificate from ACME (see the certificate lines)');
    return fail(head, `enforce, lists the MX, but ${why}: senders ignore the policy`, 'get a trusted certificate covering mta-sts.' + domain + ': mailrig cert renew');
  }
  return ok(head, `enforce, mx ${hostname}, max_age ${p.maxAge ?? '?'}`);
}

export const mtaSts: Check<CheckEnv> = {
  section: 'tls',
  name: 'mta-sts',
  run: (env) => {
    const bootstrap = leafOf(env.selfSignedCertPem);
    const bootstrapFp = bootstrap ? fingerprint(bootstrap) : '';
    return Promise.all(
      env.config.domains.map(async (d): Promise<CheckResult> => {
        const name = `mta-sts.${d.name}`;
        const head = { id: `tls.mta-sts.${d.name}`, section: 'tls' as const, subject: `${d.name} MTA-STS policy` };
        const a = await env.resolver.lookup(name, 'A');
        if (a.status === 'error') return unknown(head, `${name}: ${a.error ?? 'no answer'}`, 'retry; check --resolver');
        const address = a.records[0]?.value;
        if (address === undefined) return fail(head, `${name} has no address`, `publish ${name}. CNAME ${env.config.server.hostname}. (mailrig dns prints it)`);
        return judgePolicy(d.name, env.config.server.hostname, await env.probes.https(address, name, POLICY_PATH), bootstrapFp);
      }),
    );
  },
};
