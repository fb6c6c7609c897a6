// The agent's configuration on the host: /etc/mailrig/agent.json, root-only (it holds the CA bundle
// and, for DNS-01, the TSIG secret). Rendered by mailrig at apply from mailrig.yaml; read by the agent.

export const AGENT_CONFIG = '/etc/mailrig/agent.json';
export const AGENT_SCRIPT = '/usr/local/lib/mailrig/agent.cjs';
export const AGENT_LOG = '/var/log/mailrig-agent.log';
export const ACCOUNT_KEY = '/etc/mailrig/acme/account.key';
export const NODE = '/usr/bin/node';

export interface AgentConfig {
  version: 1;
  directoryUrl: string;
  /** Extra CAs to trust for the ACME server's HTTPS (tls.ca_bundle's content). */
  caBundlePem?: string;
  email: string;
  /** Every name, the mail host first. */
  names: string[];
  /** Names per certificate. */
  limit: number;
  keyFile: string;
  /** The chain every TLS service serves; further certificates (over the CA's name limit) go beside it. */
  certFile: string;
  accountKeyFile: string;
  /** HTTP-01 webroot (nginx serves its .well-known/acme-challenge/). */
  webroot: string;
  /** DNS-01 through RFC 2136 instead of HTTP-01. */
  dns01?: { server: string; keyName: string; secret: string; zones: Record<string, string>; ttl: number };
  init: 'systemd' | 'sysv';
  /** Init script / unit names reloaded when the certificate changed. */
  reload: string[];
  logFile: string;
}

/** Reads and checks agent.json; throws with the field that is wrong. */
export function parseAgentConfig(text: string, file = AGENT_CONFIG): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const c = raw as Partial<AgentConfig>;
  const need = (ok: boolean, field: string) => {
    if (!ok) throw new Error(`${file}: ${field} is missing or wrong; re-run mailrig apply`);
  };
  need(c.version === 1, 'version');
  for (const f of ['directoryUrl', 'email', 'keyFile', 'certFile', 'accountKeyFile', 'webroot', 'logFile'] as const) {
    need(typeof c[f] === 'string' && c[f] !== '', f);
  }
  need(Array.isArray(c.names) && c.names.length > 0 && c.names.every((n) => typeof n === 'string'), 'names');
  need(typeof c.limit === 'number' && c.limit > 0, 'limit');
  need(c.init === 'systemd' || c.init === 'sysv', 'init');
  need(Array.isArray(c.reload), 'reload');
  return c as AgentConfig;
}

export { certPathFor } from '../tls/cert.js';
