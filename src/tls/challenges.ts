// The two ways mailrig answers ACME challenges. HTTP-01: a token file in the webroot nginx serves on
// port 80 (written over SSH by apply, directly by the agent). DNS-01: a TXT record at
// _acme-challenge.<name>, added and removed by RFC 2136 updates signed with the dns.* TSIG key — for
// hosts whose port 80 is closed.
import type { TsigKey } from '../dns/tsig.js';
import { sendUpdate, type Change } from '../dns/update.js';
import type { Server } from '../dns/wire.js';
import type { ChallengeResponder } from './acme.js';

export interface FileWriter {
  write(path: string, content: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export function challengePath(webroot: string, token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error(`ACME token ${JSON.stringify(token)}: not base64url`);
  return `${webroot}/.well-known/acme-challenge/${token}`;
}

export function httpResponder(webroot: string, files: FileWriter): ChallengeResponder {
  return {
    type: 'http-01',
    present: (_name, token, keyAuthorization) => files.write(challengePath(webroot, token), keyAuthorization),
    cleanup: (_name, token) => files.remove(challengePath(webroot, token)),
  };
}

export interface Dns01Options {
  server: Server;
  key: TsigKey;
  /** The zone a name's _acme-challenge record goes in. */
  zoneOf: (name: string) => string;
  ttl?: number;
  /** Sends one update (tests inject their own). */
  send?: (server: Server, zone: string, changes: Change[], key: TsigKey) => Promise<void>;
}

/** The update that adds (or removes) one challenge TXT record, leaving any other TXT there alone. */
export function challengeChange(name: string, digest: string, action: 'add' | 'remove', ttl = 60): Change {
  const owner = `_acme-challenge.${name}`;
  const record = { zone: null, name: owner, type: 'TXT' as const, ttl, value: digest, purpose: 'ACME DNS-01 challenge', required: false };
  return {
    name: owner,
    type: 'TXT',
    replaceRRset: false,
    remove: action === 'remove' ? [{ value: digest, ttl, strings: [Buffer.from(digest)] }] : [],
    add: action === 'add' ? [record] : [],
    before: [],
    after: action === 'add' ? [digest] : [],
  };
}

export function dnsResponder(opts: Dns01Options): ChallengeResponder {
  const send = opts.send ?? sendUpdate;
  // For dns-01, acme-client's key authorization is already the digest the TXT record carries.
  return {
    type: 'dns-01',
    present: (name, _token, digest) => send(opts.server, opts.zoneOf(name), [challengeChange(name, digest, 'add', opts.ttl)], opts.key),
    cleanup: (name, _token, digest) => send(opts.server, opts.zoneOf(name), [challengeChange(name, digest, 'remove', opts.ttl)], opts.key),
  };
}
