// One run of the on-host agent: renew the certificate when it is due (a third of its lifetime left,
// another key, a missing name, or still the self-signed one), install it, reload the TLS services only
// when it changed, log the attempt. On failure the working certificate stays and the next run retries.
import { certPathFor, type AgentConfig } from './config.js';
import { formatFailures, type ChallengeResponder, type IssueResult } from '../tls/acme.js';
import { renewalDecision, spkiOfKey, tryCertificateInfo, certificateInfo } from '../tls/cert.js';

export interface AgentDeps {
  readFile(path: string): string | undefined;
  /** Writes atomically (temporary file + rename) with the mode. */
  writeFile(path: string, content: string, mode: number): void;
  now(): Date;
  issue(req: { names: string[]; keyPem: string; responder: ChallengeResponder }): Promise<IssueResult>;
  responder: ChallengeResponder;
  /** Reloads the services; resolves to the ones that failed. */
  reload(units: string[]): Promise<string[]>;
  log(line: string): void;
}

export interface AgentOutcome {
  result: 'kept' | 'renewed' | 'failed';
  message: string;
}

export async function runAgent(cfg: AgentConfig, deps: AgentDeps, opts: { force?: boolean } = {}): Promise<AgentOutcome> {
  const keyPem = deps.readFile(cfg.keyFile);
  if (keyPem === undefined) return fail(deps, `${cfg.keyFile} is missing`);
  const spki = spkiOfKey(keyPem);
  const current = deps.readFile(cfg.certFile);
  const decision = renewalDecision(tryCertificateInfo(current), { names: cfg.names, spkiSha256: spki }, deps.now(), opts.force);
  if (!decision.renew) {
    deps.log(`no renewal needed: ${decision.message}`);
    return { result: 'kept', message: decision.message };
  }
  deps.log(`renewing (${decision.message}) from ${cfg.directoryUrl}`);
  let issued: IssueResult;
  try {
    issued = await deps.issue({ names: cfg.names, keyPem, responder: deps.responder });
  } catch (e) {
    return fail(deps, `the CA could not be used: ${(e as Error).message}`);
  }
  if (issued.failed.length) deps.log(`not validated, left out: ${formatFailures(issued.failed)}`);
  const first = issued.certificates[0];
  if (first === undefined) return fail(deps, 'no certificate was issued');
  const info = certificateInfo(first.pem);
  if (info.spkiSha256 !== spki) return fail(deps, 'the CA returned a certificate for another key');
  issued.certificates.forEach((c, n) => {
    const path = certPathFor(cfg.certFile, n);
    const before = deps.readFile(path);
    if (n === 0 && before !== undefined) deps.writeFile(`${path}.previous`, before, 0o644);
    deps.writeFile(path, c.pem, 0o644);
  });
  const changed = current !== first.pem;
  const failedReloads = changed ? await deps.reload(cfg.reload) : [];
  const message = `renewed: ${info.names.length} names, serial ${info.serial}, valid until ${info.notAfter.toISOString()}`;
  deps.log(changed ? `${message}; reloaded ${cfg.reload.join(', ')}` : `${message}; unchanged, nothing reloaded`);
  if (failedReloads.length) return fail(deps, `installed, but reloading ${failedReloads.join(', ')} failed`);
  return { result: 'renewed', message };
}

function fail(deps: AgentDeps, message: string): AgentOutcome {
  deps.log(`FAILED: ${message}; the working certificate stays, the next run retries`);
  return { result: 'failed', message };
}
