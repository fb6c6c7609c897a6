// The certificate each TLS port serves: trusted, covering the names it must, the one installed on
// the host, and not about to expire. One line per port; the worst finding decides its status and fix.
import { createHash, X509Certificate } from 'node:crypto';
import { certificateNames } from '../../keys/names.js';
import { TLS_CERT } from '../../render/tls.js';
import { fingerprint, type CheckEnv } from '../env.js';
import type { Served } from '../../net/tls.js';
import { TLS_PORTS } from '../net/tls.js';
import { fail, ok, warn, worst, type Check, type CheckResult, type Status } from '../types.js';

export const EXPIRY = { warnDays: 14, failDays: 3 };

export interface CertificateContext {
  /** Names the certificate on this port must cover. */
  names: string[];
  now: Date;
  /** SHA-256 fingerprint of mailrig's self-signed bootstrap certificate. */
  bootstrapFingerprint: string;
  /** The installed leaf, undefined when the host was not read, null when none is installed. */
  installed: X509Certificate | null | undefined;
  /** How to reload the daemon serving the port, for fix lines. */
  reload: string;
}

export function spkiSha256(cert: X509Certificate): string {
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The first certificate of a PEM chain, or null when there is none. */
export function leafOf(pem: string): X509Certificate | null {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) return null;
  try {
    return new X509Certificate(m[0]);
  } catch {
    return null;
  }
}

interface Finding {
  status: Status;
  text: string;
  fix: string;
}

const RENEW = 'renew it: mailrig cert renew (and find out why automatic renewal did not)';
const ACME = 'set tls.acme: letsencrypt in mailrig.yaml and get a certificate from it (mailrig cert renew) once DNS points here';

export function judgeCertificate(port: number, service: string, served: Served, ctx: CertificateContext): CheckResult {
  const head = { id: `tls.certificate.${port}`, section: 'tls' as const, subject: `certificate on ${port}` };
  const leaf = served.chain[0];
  if (served.error !== undefined || leaf === undefined) {
    return fail(head, `no TLS on ${service}: ${served.error ?? 'no certificate'}`, `check that the daemon runs and mailrig apply has rendered its TLS settings`);
  }
  const findings: Finding[] = [];
  const bootstrap = fingerprint(leaf) === ctx.bootstrapFingerprint;
  const days = Math.floor((Date.parse(leaf.validTo) - ctx.now.getTime()) / 86_400_000);
  const until = new Date(leaf.validTo).toISOString().slice(0, 10);
  const renew = bootstrap ? 'mailrig apply installs the bootstrap certificate again; better: ' + ACME : RENEW;
  if (days < 0) findings.push({ status: 'fail', text: `expired on ${until}`, fix: renew });
  else if (days < EXPIRY.failDays) findings.push({ status: 'fail', text: `expires in ${days} days (${until})`, fix: renew });
  else if (days < EXPIRY.warnDays) findings.push({ status: 'warn', text: `expires in ${days} days (${until})`, fix: renew });
  if (Date.parse(leaf.validFrom) > ctx.now.getTime()) findings.push({ status: 'fail', text: `not valid before ${leaf.validFrom}`, fix: 'check the clocks of the host and of this machine' });

  if (!served.authorized) {
    if (bootstrap) findings.push({ status: 'warn', text: "mailrig's self-signed bootstrap certificate: not yet from ACME", fix: ACME });
    else if (served.authorizationError !== 'CERT_HAS_EXPIRED') {
      findings.push({ status: 'fail', text: `not trusted (${served.authorizationError ?? 'unknown reason'})`, fix: 'serve a certificate from a public CA with its full chain (fullchain.pem): mailrig cert renew' });
    }
  }
  const missing = ctx.names.filter((n) => leaf.checkHost(n) === undefined);
  if (missing.length) findings.push({ status: 'fail', text: `does not cover ${missing.join(', ')}`, fix: `get a certificate that lists ${missing.join(', ')}: mailrig cert renew` });

  if (ctx.installed === null) {
    findings.push({ status: 'fail', text: `nothing installed at ${TLS_CERT}`, fix: 'mailrig apply installs it' });
  } else if (ctx.installed && fingerprint(ctx.installed) !== fingerprint(leaf)) {
    findings.push({ status: 'fail', text: `not the certificate installed in ${TLS_CERT}`, fix: `reload the daemon so it reads the installed one: ${ctx.reload}` });
  }

  const status = findings.reduce<Status>((s, f) => worst(s, f.status), 'ok');
  if (status === 'ok') {
    const installed = ctx.installed ? ', the installed one' : '';
    return ok(head, `valid until ${until} (${days} days), trusted, covers ${ctx.names.length === 1 ? ctx.names[0] : `${ctx.names.length} names`}${installed}`);
  }
  const first = findings.find((f) => f.status === status) as Finding;
  const text = findings.map((f) => f.text).join('; ');
  return status === 'fail' ? fail(head, text, first.fix) : warn(head, text, first.fix);
}

function reloadFor(port: number, env: CheckEnv, systemd: boolean): string {
  const daemon = port === 443 ? 'nginx' : port === 993 ? 'dovecot' : 'postfix';
  const cmd = systemd ? `systemctl reload ${daemon}` : `service ${daemon} reload`;
  return env.config.server.ssh === 'local' ? cmd : `ssh ${env.config.server.ssh} '${cmd}'`;
}

export const certificates: Check<CheckEnv> = {
  section: 'tls',
  name: 'certificate',
  async run(env) {
    const { hostname } = env.config.server;
    const all = certificateNames(hostname, env.config.domains.map((d) => d.name));
    const bootstrap = leafOf(env.selfSignedCertPem);
    const access = await env.host;
    const installed = access.ok ? leafOf(access.view.check.installedCertificate) : undefined;
    const systemd = access.ok && access.view.facts.init === 'systemd';
    return Promise.all(
      TLS_PORTS.map(async ({ port, service }) =>
        judgeCertificate(port, service, await env.probes.served(port), {
          names: port === 443 ? all : [hostname],
          now: env.now,
          bootstrapFingerprint: bootstrap ? fingerprint(bootstrap) : '',
          installed,
          reload: reloadFor(port, env, systemd),
        }),
      ),
    );
  },
};
