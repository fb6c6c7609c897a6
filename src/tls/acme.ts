// Issuing certificates over ACME (RFC 8555) with acme-client, shared by the operator's machine (during
// apply) and the on-host agent (renewal). The CSR is made from the server's stored TLS key, so the key
// — and the DANE TLSA record — survives every renewal. A name whose validation fails is reported by
// name and left out; the others are still issued, in a fresh order.
import { Agent, get } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { splitNames } from './directory.js';

/** Makes a challenge answerable (a file in nginx's webroot, a TXT record) and takes it away again. */
export interface ChallengeResponder {
  readonly type: 'http-01' | 'dns-01';
  present(name: string, token: string, keyAuthorization: string): Promise<void>;
  cleanup(name: string, token: string, keyAuthorization: string): Promise<void>;
}

export interface ChallengeLike {
  type: string;
  url: string;
  token: string;
  status?: string;
}

export interface AuthorizationLike {
  identifier: { type: string; value: string };
  status: string;
  challenges: ChallengeLike[];
  url?: string;
}

/** The part of acme-client's Client that issuance uses: tests put a fake CA behind it. */
export interface AcmeClientLike {
  createAccount(data: { termsOfServiceAgreed: boolean; contact: string[] }): Promise<unknown>;
  createOrder(data: { identifiers: Array<{ type: 'dns'; value: string }> }): Promise<unknown>;
  getAuthorizations(order: never): Promise<AuthorizationLike[]>;
  getChallengeKeyAuthorization(challenge: never): Promise<string>;
  completeChallenge(challenge: never): Promise<unknown>;
  waitForValidStatus(item: never): Promise<unknown>;
  finalizeOrder(order: never, csr: Buffer): Promise<unknown>;
  getCertificate(order: never): Promise<string>;
}

export interface IssueRequest {
  client: AcmeClientLike;
  email: string;
  /** The TLS key the certificate is for (PEM). */
  keyPem: string;
  /** Every name, the mail host first. */
  names: string[];
  /** Names per certificate (the CA's limit). */
  limit: number;
  responder: ChallengeResponder;
  log: (line: string) => void;
}

export interface IssuedCertificate {
  names: string[];
  /** The chain as the CA sent it, leaf first. */
  pem: string;
}

export interface FailedName {
  name: string;
  reason: string;
}

export interface IssueResult {
  certificates: IssuedCertificate[];
  failed: FailedName[];
}

export interface ClientOptions {
  directoryUrl: string;
  accountKeyPem: string;
  /** Extra CAs (PEM) to trust for the ACME server's HTTPS, besides the public roots. */
  caBundlePem?: string | undefined;
}

/** An acme-client Client for the directory, with short retries: apply waits on it. */
export function acmeClient(opts: ClientOptions): AcmeClientLike {
  const ax = acme.axios.defaults as unknown as {
    httpsAgent?: Agent;
    timeout?: number;
    acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number };
  };
  if (opts.caBundlePem) ax.httpsAgent = new Agent({ ca: [...rootCertificates, opts.caBundlePem] });
  ax.timeout = 30_000;
  // An unreachable CA should fail within seconds, not after five retries five seconds apart.
  ax.acmeSettings.retryMaxAttempts = 2;
  ax.acmeSettings.retryDefaultDelay = 1;
  const client = new acme.Client({
    directoryUrl: opts.directoryUrl,
    accountKey: opts.accountKeyPem,
    backoffAttempts: 12,
    backoffMin: 500,
    backoffMax: 5000,
  }) as unknown as AcmeClientLike;
  // acme-client 5.4 turns "no answer at all" into "Cannot read properties of undefined (reading
  // 'config')" once its retries are spent: ask the directory first, so the operator reads the real cause.
  const createAccount = client.createAccount.bind(client);
  client.createAccount = async (data) => {
    await directoryAnswers(opts.directoryUrl, ax.httpsAgent);
    return createAccount(data);
  };
  return client;
}

function directoryAnswers(url: string, agent: Agent | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(url, { ...(agent ? { agent } : {}), timeout: 15_000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`${url} answered HTTP ${res.statusCode ?? '?'}`));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot reach ${url} (${e.code ?? e.message})`)));
  });
}

export async function makeCsr(keyPem: string, names: string[]): Promise<Buffer> {
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0] ?? '', altNames: names }, keyPem);
  return csr;
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/** Validates every pending authorization of an order; returns the names that failed and why. */
async function validate(req: IssueRequest, order: unknown): Promise<FailedName[]> {
  const { client, responder } = req;
  const authzs = await client.getAuthorizations(order as never);
  const failed: FailedName[] = [];
  await Promise.all(
    authzs.map(async (authz) => {
      const name = authz.identifier.value;
      if (authz.status === 'valid') return;
      const challenge = authz.challenges.find((c) => c.type === responder.type);
      if (!challenge) {
        failed.push({ name, reason: `the CA offers no ${responder.type} challenge` });
        return;
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge as never);
      try {
        await responder.present(name, challenge.token, keyAuthorization);
        await client.completeChallenge(challenge as never);
        await client.waitForValidStatus(challenge as never);
      } catch (e) {
        failed.push({ name, reason: message(e) });
      } finally {
        await responder.cleanup(name, challenge.token, keyAuthorization).catch(() => undefined);
      }
    }),
  );
  return failed;
}

/** One certificate for `names`, dropping names that fail validation (retrying with the rest). */
async function issueOne(req: IssueRequest, names: string[]): Promise<{ cert?: IssuedCertificate; failed: FailedName[] }> {
  const failed: FailedName[] = [];
  let remaining = [...names];
  // Each round drops at least one name, or ends.
  while (remaining.length) {
    req.log(`ordering a certificate for ${remaining.length} name${remaining.length === 1 ? '' : 's'} (${req.responder.type})`);
    const order = await req.client.createOrder({ identifiers: remaining.map((value) => ({ type: 'dns' as const, value })) });
    const now = await validate(req, order);
    if (now.length === 0) {
      const finalized = await req.client.finalizeOrder(order as never, await makeCsr(req.keyPem, remaining));
      const pem = await req.client.getCertificate(finalized as never);
      return { cert: { names: remaining, pem }, failed };
    }
    for (const f of now) req.log(`validation failed for ${f.name}: ${f.reason}`);
    failed.push(...now);
    const bad = new Set(now.map((f) => f.name));
    remaining = remaining.filter((n) => !bad.has(n));
  }
  return { failed };
}

/**
 * Registers the account (or finds it: the same key always maps to the same account), then issues a
 * certificate per group of at most `limit` names. Throws only when the CA cannot be used at all
 * (unreachable, account refused); failed names are in the result.
 */
export async function issueCertificates(req: IssueRequest): Promise<IssueResult> {
  await req.client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${req.email}`] });
  const result: IssueResult = { certificates: [], failed: [] };
  for (const chunk of splitNames(req.names, req.limit)) {
    const { cert, failed } = await issueOne(req, chunk);
    if (cert) result.certificates.push(cert);
    result.failed.push(...failed);
  }
  return result;
}

/** "a.example (why), b.example (why)" for messages. */
export function formatFailures(failed: FailedName[]): string {
  return failed.map((f) => `${f.name} (${f.reason})`).join('; ');
}
